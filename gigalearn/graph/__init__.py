"""Graph learning on relational tables: ingestion, sampling, training, inference, evaluation."""
