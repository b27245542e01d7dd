"""Every stateful name Weir derives, in one place.

Names come from the application id and node ids, never from positions or counters, so
inserting a node never renames another node's state (Kafka Streams' lesson in
"dsl-topology-naming"). The formats follow Kafka Streams:

==================  ==============================================  ==========================
what                format                                          example (app ``shop``)
==================  ==============================================  ==========================
consumer group      ``<app id>``                                    ``shop``
restore group       ``<app id>-restore`` (assign only, never joins)  ``shop-restore``
client id           ``<app id>-<slot>-<role>``                      ``shop-0-consumer``
store               ``<node id>-store`` (joins: ``<node id>-left-store``/``-right-store``;
                    foreign-key joins also ``-subscription-store``; table aggregates
                    ``<node id>-group-store``)
changelog topic     ``<app id>-<store>-changelog``                  ``shop-by_page-store-changelog``
repartition topic   ``<app id>-<node id>-repartition``              ``shop-by_page-repartition``
                    (join sides: ``<app id>-<node id>-left-repartition``; foreign-key
                    joins also ``-subscription-`` and ``-response-repartition``)
dead-letter topic   ``<app id>.dlq``                                ``shop.dlq``
transactional id    ``<app id>-<slot>``                             ``shop-0``
==================  ==============================================  ==========================

Only ``binding.bind(plan, app_id)`` calls the functions that take an application id: it
resolves every name of a plan once, and the runtime reads them from the bound plan. The
compiler names stores and repartitions (``store_name``, ``repartition_name``) when lowering.

Node ids are limited by the document schema to ``[A-Za-z0-9_-]{1,64}`` so every derived
name is a legal Kafka topic name (max 249 chars) for application ids up to 100 chars.
"""

from __future__ import annotations

import re

ID_PATTERN = r"^[A-Za-z0-9_][A-Za-z0-9_-]{0,63}$"
APP_ID_PATTERN = r"^[A-Za-z0-9._-]{1,100}$"
_APP_ID = re.compile(APP_ID_PATTERN)


def is_valid_app_id(value: str) -> bool:
    return bool(_APP_ID.match(value))


def store_name(node_id: str, role: str = "") -> str:
    return f"{node_id}-{role}-store" if role else f"{node_id}-store"


def repartition_name(node_id: str, role: str = "") -> str:
    """A join re-keying one side uses role "left"/"right": ``<join id>-left``."""
    return f"{node_id}-{role}" if role else node_id


def changelog_topic(app_id: str, store: str) -> str:
    return f"{app_id}-{store}-changelog"


def repartition_topic(app_id: str, name: str) -> str:
    return f"{app_id}-{name}-repartition"


def dlq_topic(app_id: str) -> str:
    return f"{app_id}.dlq"


def consumer_group(app_id: str) -> str:
    return app_id


def restore_consumer_group(app_id: str) -> str:
    return f"{consumer_group(app_id)}-restore"


def client_id(app_id: str, slot: int, role: str) -> str:
    """``role``: consumer, restore or producer."""
    return f"{app_id}-{slot}-{role}"


def transactional_id(app_id: str, slot: int) -> str:
    return f"{app_id}-{slot}"
