-- Run once by the postgres image on an empty volume: one database per store, all owned
-- by POSTGRES_USER (the image creates that user and its database "trainguard").
CREATE DATABASE airflow OWNER trainguard;
CREATE DATABASE mlflow OWNER trainguard;
CREATE DATABASE violations OWNER trainguard;
