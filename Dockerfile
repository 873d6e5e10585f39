FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
# OpenMP threads that wait for work sleep instead of spinning: on the busy 2-core machine, one
# process analysing photos back to back with 2 torch threads spent 560-850 ms of CPU per photo
# spinning, 52 ms with this (docs/capacity.md, "Web workers on N cores"). Web and Celery alike.
ENV OMP_WAIT_POLICY=PASSIVE
WORKDIR /app
RUN apt-get update && apt-get install -y --no-install-recommends libgl1 libglib2.0-0 && rm -rf /var/lib/apt/lists/*
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY . .
# ONNX Runtime copies of the models just copied, built into the image (docs/vision.md, "Serving
# runtime") so that no container exports them at start; no database is needed for it.
ENV FASHIONREC_ONNX_CACHE_DIR=/app/var/onnx-cache
RUN DATABASE_URL=postgres://build@localhost/unused python manage.py export_onnx
EXPOSE 8000
# Workers, threads, torch threads and OpenMP waiting sized from the container's cores: deploy/gunicorn.conf.py.
CMD ["gunicorn", "fashionrec.wsgi:application", "--config", "deploy/gunicorn.conf.py"]
