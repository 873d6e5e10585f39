FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
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
CMD ["gunicorn", "fashionrec.wsgi:application", "--bind", "0.0.0.0:8000"]
