"""The Kafka edge of the runtime: the only package that imports confluent_kafka.

``loop.run`` runs a plan against a cluster; ``admin`` creates internal topics and looks up
partition counts; ``producer`` and ``consume.ConsumerCommitter`` are the Kafka side of the pure
checkpoint (processing/runtime/checkpoint.py, which orders outputs and offsets); ``tasks``
keeps the tasks and their states; ``clients`` holds the librdkafka configuration of the
consumer, producer and restore consumer; ``config`` maps the environment to the
client configuration every Kafka client starts from.
"""

from __future__ import annotations
