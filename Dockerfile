FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
COPY pyproject.toml ./
COPY annotator annotator
COPY web web
COPY projects projects
COPY labeling labeling
COPY imports imports
COPY agreement agreement
COPY exports exports
RUN pip install --no-cache-dir .
COPY . .
RUN SECRET_KEY=build DEBUG=0 ALLOWED_HOSTS=build python manage.py collectstatic --noinput -v 0
EXPOSE 8000
CMD ["gunicorn", "annotator.wsgi", "--bind", "0.0.0.0:8000", "--workers", "4"]
