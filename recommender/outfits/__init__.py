"""Outfits: which garments are worn together, learned from the CCP street photos (issue 17).

Pure library (numpy, scipy, PIL; no Django): ``street`` reads the photos into outfits of
mask-cut garments, ``model`` learns and scores compatibility, ``evaluation`` is the
fill-in-the-blank protocol shared by weight selection and ``bench/outfits.py``.
"""
