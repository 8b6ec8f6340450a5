"""Each service's AsyncAPI 3 document, made by FastStream's own generator from the service's broker.

- `receive`: the broker's real subscribers (`shared.consumer.register_consumer`). Their handler takes the raw
  Kafka message (the consumer parses and dead-letters itself), so FastStream would see no payload: each
  subscriber's specification is given the event classes its handlers take, one channel per topic with
  the classes of that topic.
- `send`: services publish through their transactional outbox (`shared.outbox`), never through a FastStream
  publisher. What a service writes is declared once in its `ServiceDefinition.publishes`, and becomes one
  FastStream publisher per event class on the broker, for the document only: it is never called.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any
from urllib.parse import unquote

import yaml

from faststream.kafka import KafkaBroker
from faststream.kafka.subscriber.specification import KafkaSubscriberSpecification
from faststream.specification import AsyncAPI
from faststream.specification.asyncapi.message import get_model_schema
from faststream.specification.asyncapi.utils import resolve_payloads
from faststream.specification.asyncapi.v2_6_0.schema.utils import Reference
from faststream.specification.asyncapi.v3_0_0.schema.servers import Server
from faststream.specification.base import Specification
from faststream.specification.schema import Message, Operation, SubscriberSpec
from faststream.specification.schema.bindings import ChannelBinding, kafka
from pydantic import create_model

from shared.events.catalog import EVENT_CLASSES
from shared.events.envelope import Envelope
from shared.events.partner import PARTNER_FIELDS, partner_event_class
from shared.events.topics import PartnerTopics

ASYNCAPI_VERSION = "3.0.0"
PARTNERS_SERVER = "partners"
_TYPES = [cls.event_type() for cls in EVENT_CLASSES]
SECURITY_SCHEME = "scram512"  # the name FastStream gives the brokers' SASLScram512 security
# Written on the partner banks' own topics, by the banks (`shared.events.banks`): their document is made here too.
PARTNER_BANKS = "partner-banks"


def _order(event_cls: type[Envelope[Any]]) -> int:
    """The catalogue's order (a partner feed's class takes its type's place)."""
    return _TYPES.index(event_cls.event_type())


def _event_schema(event_cls: type[Envelope[Any]], prefix: str) -> dict[str, Any]:
    """The envelope's JSON schema as FastStream builds a publisher's `schema=` (title: the class name)."""
    body = get_model_schema(create_model("", response__=(event_cls, ...)), prefix=prefix)
    assert body is not None
    return body


class EventsSubscriberSpecification(KafkaSubscriberSpecification):
    """A Kafka subscriber's specification whose messages are the event classes its handlers take."""

    __slots__ = ("address", "events")

    def __init__(
        self, base: KafkaSubscriberSpecification, events: Iterable[type[Envelope[Any]]], address: str | None = None
    ) -> None:
        super().__init__(base._outer_config, base.config, base.calls)
        self.events = tuple(sorted(set(events), key=_order))
        self.address = address

    def get_schema(self) -> dict[str, SubscriberSpec]:
        # A pattern subscriber is shown at its parameterised address (`microcredit.partner.{bank_id}...`).
        topics = [self.address] if self.address else self.topics
        split = len(topics) > 1
        channels = {}
        for topic in topics:
            key = self._channel_key(topic, split=split)
            payloads = [(_event_schema(cls, f"{key}:Message"), cls.__name__) for cls in self.events if cls.topic == topic]
            channels[key] = SubscriberSpec(
                address=topic,
                description=self.description,
                operation=Operation(
                    message=Message(title=f"{key}:Message", payload=resolve_payloads(payloads)),
                    bindings=None,
                ),
                bindings=ChannelBinding(kafka=kafka.ChannelBinding(topic=topic, partitions=None, replicas=None)),
            )
        return channels


def document_subscriber(subscriber: Any, events: Iterable[type[Envelope[Any]]], *, address: str | None = None) -> None:
    """Let `subscriber`'s `receive` operations carry the payload schemas of `events` (at `address`, for a pattern)."""
    subscriber.specification = EventsSubscriberSpecification(subscriber.specification, events, address)


def publisher_title(service: str, event_cls: type[Envelope[Any]]) -> str:
    """The `send` operation's (and its channel's) name: `<service>:<event type>`."""
    return f"{service}:{event_cls.event_type()}"


def declare_publishers(
    broker: KafkaBroker, service: str, events: Sequence[type[Envelope[Any]]],
    *, how: str = "published through the service's transactional outbox",
) -> None:
    """One documentation-only publisher per event class `service` writes through its outbox (never called)."""
    for event_cls in sorted(events, key=_order):
        payload_cls = event_cls.model_fields["data"].annotation
        doc = ((payload_cls.__doc__ if payload_cls else None) or event_cls.__doc__ or "").strip().splitlines()[0]
        broker.publisher(
            event_cls.topic,
            title=publisher_title(service, event_cls),
            description=f"{doc} Key: the envelope's `subject`; content type `application/cloudevents+json`; {how}.",
            schema=event_cls,
        )


def specification(broker: KafkaBroker, *, service: str, title: str, description: str) -> Specification:
    """The service's AsyncAPI 3 document (FastStream's generator), in a stable order.

    The broker keeps its endpoints in sets: the document lists the `receive` operations by name, then the
    `send` operations in the catalogue's order (`shared.events.catalog`), and its components by name.
    """
    document: Any = AsyncAPI(
        broker,
        title=title,
        version="1.0.0",
        description=description,
        identifier=f"urn:microcredit:service:{service}",
        schema_version=ASYNCAPI_VERSION,
    ).to_specification()
    types = [cls.event_type() for cls in EVENT_CLASSES]

    def rank(name: str) -> tuple[int, int, str]:
        operation = document.operations[name]
        if operation.action == "receive":
            return (0, 0, name)
        event_type = name.partition(":")[2]
        return (1, types.index(event_type) if event_type in types else len(types), name)

    names = sorted(document.operations, key=rank)
    document.operations = {name: document.operations[name] for name in names}
    channels = [_channel_key(document.operations[name]) for name in names]
    document.channels = {
        key: document.channels[key] for key in [*channels, *sorted(set(document.channels) - set(channels))]
    }
    document.components.messages = dict(sorted((document.components.messages or {}).items()))
    document.components.schemas = dict(sorted((document.components.schemas or {}).items()))
    _partner_channels(document)
    return document


def _partner_channels(document: Any) -> None:
    """The partner banks' topics as channels with the bank as a parameter, on the partners' server, whose clients
    authenticate with SASL/SCRAM-SHA-512 (one principal per bank, allowed by ACLs on its own topics only)."""
    partner = {
        key: channel for key, channel in document.channels.items() if (channel.address or "").startswith(PartnerTopics.PREFIXES)
    }
    if not partner:
        return
    development = next(iter(document.servers.values()))
    document.servers[PARTNERS_SERVER] = Server(
        host=development.host,
        pathname=development.pathname,
        protocol=development.protocol,
        protocolVersion=development.protocolVersion,
        description="The listener partner banks connect to: SASL/SCRAM-SHA-512, each bank with its own credentials.",
        security=[Reference(**{"$ref": f"#/components/securitySchemes/{SECURITY_SCHEME}"})],
    )
    document.components.securitySchemes = {
        **(document.components.securitySchemes or {}),
        SECURITY_SCHEME: {
            "type": "scramSha512",
            "description": "SASL/SCRAM-SHA-512 with the bank's own user name and password. A bank reads only its feed "
            f"(consumer groups `{PartnerTopics.GROUP_PREFIX}<bank_id>.*`) and writes only its decisions and payments topics.",
        },
    }
    for channel in partner.values():
        channel.servers = [{"$ref": f"#/servers/{PARTNERS_SERVER}"}]
        channel.parameters = {"bank_id": {"description": "The partner bank's id in the directory (e.g. `credit-mutuel-nord`)."}}


def _channel_key(operation: Any) -> str:
    return unquote(operation.channel.ref.removeprefix("#/channels/"))


def to_yaml(document: Specification) -> str:
    """The document as YAML, its French text as it is (FastStream's `to_yaml` escapes every accent)."""
    return yaml.safe_dump(document.to_jsonable(), sort_keys=False, allow_unicode=True, width=120)


def partner_feed_events() -> list[type[Envelope[Any]]]:
    """The events of a partner bank's feed, cut to the allow-list, in the catalogue's order."""
    return [partner_event_class(cls) for cls in sorted(PARTNER_FIELDS, key=_order)]


def declare_partner_feed(broker: KafkaBroker, service: str) -> None:
    """The documentation-only publishers of the events `service` writes on each bank's feed (`<service>:partner-feed:<type>`)."""
    for event_cls in partner_feed_events():
        payload_cls = event_cls.model_fields["data"].annotation
        doc = ((payload_cls.__doc__ if payload_cls else None) or "").strip().splitlines()[0]
        broker.publisher(
            event_cls.topic,
            title=f"{service}:partner-feed:{event_cls.event_type()}",
            description=f"{doc} To the bank whose file or loan it is. Key: the envelope's `subject`; content type "
            "`application/cloudevents+json`; published through the service's transactional outbox.",
            schema=event_cls,
        )


def partner_banks_broker(bootstrap_servers: str) -> KafkaBroker:
    """What the partner banks write on their own topics and read on their feed, as a broker never started (documentation only)."""
    from shared.events.banks import BankDecision, BankPayment

    from faststream.security import SASLScram512

    # Each bank logs in as its own principal (deploy/kafka_security/): the document names the scheme, never a password.
    broker = KafkaBroker(bootstrap_servers, client_id=PARTNER_BANKS, security=SASLScram512(username="bank-<bank-id>", password=""))
    declare_publishers(
        broker, PARTNER_BANKS, (BankDecision, BankPayment),
        how="written by the bank to its own topic only; its `bank_id` must be the topic's bank, else it is dead-lettered",
    )
    subscriber = broker.subscriber(
        PartnerTopics.FEED_ADDRESS,
        group_id=f"{PartnerTopics.GROUP_PREFIX}{{bank_id}}.<name>",
        title=f"{PARTNER_BANKS}:feed",
        description="The bank's own feed: the events about its files and loans only, each cut to the partner allow-list "
        "(ids, amounts, rates, dates, terms, stages; never a name, a birth date, a household, a budget or a counsellor's "
        f"opinion). Its consumer groups are named `{PartnerTopics.GROUP_PREFIX}<bank_id>.<anything>`.",
    )
    subscriber(_never_called)
    document_subscriber(subscriber, partner_feed_events(), address=PartnerTopics.FEED_ADDRESS)
    return broker


async def _never_called(message: Any) -> None:  # pragma: no cover - documentation only
    raise RuntimeError("the partner banks' document is never run")
