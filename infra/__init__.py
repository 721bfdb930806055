"""Adapters to the outside world: settings, logging, PostgreSQL, RabbitMQ, local services."""
