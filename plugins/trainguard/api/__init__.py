"""The Airflow API-server side of trainguard: the Governance page and the REST API."""
