import pytest

from recommender.vision.main_garment import main_first, main_garment_index, prominence

W, H = 600, 900  # a portrait street photo


def test_a_garment_a_shopper_searches_for_beats_surer_accessories():
    # given a photo of a woman in a dress, where the detector is surest of her shoes and bag
    garments = [
        ((200, 780, 260, 860), "shoes", 0.91),
        ((330, 780, 390, 860), "shoes", 0.88),
        ((380, 400, 470, 520), "bag", 0.80),
        ((180, 220, 420, 760), "dress", 0.42),
    ]

    # when
    index = main_garment_index(garments, W, H)

    # then the dress is the main garment
    assert garments[index][1] == "dress"


def test_a_larger_central_garment_beats_a_small_one_at_the_edge():
    # given a top and trousers of the person in the middle, and a passer-by's top cut by the edge
    garments = [
        ((0, 300, 90, 500), "top", 0.9),  # passer-by, at the left edge
        ((200, 200, 400, 450), "top", 0.5),
        ((210, 450, 390, 800), "trousers", 0.5),
    ]

    # when
    index = main_garment_index(garments, W, H)

    # then the person's own garments win over the passer-by's, the larger and more central first
    assert index == 2
    assert prominence(garments[1][0], "top", W, H) > prominence(garments[0][0], "top", W, H)


def test_accessories_are_chosen_when_they_are_what_the_photo_shows():
    # given a close-up of shoes with a sliver of trouser hem at the top
    garments = [((0, 0, 600, 40), "trousers", 0.3), ((50, 200, 560, 850), "shoes", 0.9)]

    # then the shoes fill the photo and are the main garment
    assert main_garment_index(garments, W, H) == 1


def test_centrality_and_area_shape_prominence_and_unknown_labels_sit_between():
    box = (200, 300, 400, 600)
    assert prominence(box, "top", W, H) == pytest.approx((200 * 300 / (W * H)) ** 0.5 * 1.0)  # centred
    assert prominence((0, 0, 200, 300), "top", W, H) < prominence(box, "top", W, H)  # same size, in a corner
    assert prominence(box, "shoes", W, H) == pytest.approx(0.25 * prominence(box, "top", W, H))
    assert prominence(box, "umbrella", W, H) == pytest.approx(0.5 * prominence(box, "top", W, H))


def test_ties_go_to_the_more_confident_then_the_earlier_box_and_nothing_gives_none():
    box = (200, 300, 400, 600)
    assert main_garment_index([(box, "top", 0.3), (box, "skirt", 0.6)], W, H) == 1
    assert main_garment_index([(box, "top", 0.3), (box, "skirt", 0.3)], W, H) == 0
    assert main_garment_index([], W, H) is None


def test_main_first_keeps_the_main_garment_even_when_surer_boxes_fill_the_limit():
    # given more accessories than the limit, all surer than the dress
    accessories = [((10 * i, 800, 10 * i + 40, 860), "shoes", 0.9 - i / 100) for i in range(6)]
    dress = ((180, 220, 420, 760), "dress", 0.2, False)

    # when the pipeline keeps 3 garments
    kept = main_first([*[(*a, False) for a in accessories], dress], W, H, 3)

    # then the dress comes first and the two surest shoes follow
    assert kept[0] == dress
    assert [g[2] for g in kept[1:]] == [0.9, 0.89]
    assert main_first([], W, H, 3) == []
