"""Risk service metrics (`safetynet_risk_*`); dead letters are also counted by the core."""

from prometheus_client import Counter, Gauge, Histogram

from safetynet_core.metrics import LATENCY_BUCKETS

ASSESSMENTS = Counter(
    "safetynet_risk_assessments_total", "Assessments written, by level and category", ["level", "category"]
)
FLAGS = Counter("safetynet_risk_flags_total", "Assessments that open (or join) a case")
WARNINGS = Counter("safetynet_risk_warnings_total", "Warning rules fired, by rule", ["rule"])
EVENTS = Counter("safetynet_risk_events_total", "Household-event records consumed, by outcome", ["outcome"])
DEAD_LETTERS = Counter("safetynet_risk_dead_letters_total", "Poison records sent to the DLQ", ["reason"])
PUBLISHED = Counter("safetynet_risk_assessments_published_total", "Assessments published to Kafka")
CONSUMER_LAG = Gauge("safetynet_risk_consumer_lag", "Records behind the high watermark", ["partition"])
BATCH_SIZE = Histogram(
    "safetynet_risk_batch_size",
    "Records per consumed batch",
    buckets=(1, 10, 50, 100, 250, 500, 1000, 2000, 5000, 10000),
)
BATCH_SECONDS = Histogram(
    "safetynet_risk_batch_seconds", "Time to store, score and commit one batch", buckets=LATENCY_BUCKETS
)
SCORING_SECONDS = Histogram(
    "safetynet_risk_scoring_seconds",
    "Time to build state and score one household",
    buckets=(0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05),
)
CASE_EVENTS = Counter(
    "safetynet_risk_case_events_total",
    "Case-events records consumed, by outcome (applied, skipped, dead_lettered)",
    ["outcome"],
)
