"""Prometheus metrics of the notify service (safetynet_notify_*)."""

from prometheus_client import Counter, Gauge, Histogram

from safetynet_core.vocabulary import Channel

CHANNELS = frozenset(Channel)

EVENTS_CONSUMED = Counter(
    "safetynet_notify_events_consumed_total",
    "Case events consumed, by event name and outcome",
    ["event", "outcome"],
)
DELIVERIES = Counter(
    "safetynet_notify_deliveries_total",
    "Delivery state changes by channel and status (queued, sent, retrying, deferred, dead)",
    ["channel", "status"],
)
ATTEMPTS = Counter(
    "safetynet_notify_delivery_attempts_total",
    "Delivery attempts by channel and outcome",
    ["channel", "outcome"],
)
RETRY_QUEUE = Gauge(
    "safetynet_notify_retry_queue_depth",
    "Deliveries waiting to be sent, by channel and status",
    ["channel", "status"],
)
LATENCY = Histogram(
    "safetynet_notify_delivery_latency_seconds",
    "From the case event's occurred_at to the first successful delivery",
    ["channel"],
    buckets=(0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 6 * 3600, 24 * 3600),
)
DEAD_LETTERS = Counter(
    "safetynet_notify_dead_letters_total",
    "Dead letters: deliveries that exhausted their attempts, and poison Kafka records",
    ["source", "channel"],
)
