"""One-machine helpers: the demo, its data generator, the embedded Airflow/MLflow setup,
the local Celery stack and in-process DAG runs. Nothing in the core imports from here."""
