"""Local RabbitMQ and PostgreSQL for machines without Docker: reuse running ones, or start them
from the machine's packages with their data in a git-ignored folder."""
