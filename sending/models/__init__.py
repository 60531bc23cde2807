"""Models of `sending`: identities (domains, DKIM keys, sender addresses, tags), recipient lists, messages,
API state."""

from sending.models.api import ApiNonce, ApiRateCounter, IdempotencyRecord  # noqa: F401
from sending.models.batch import BatchJob, BatchStatus, UnsubscribeLevel  # noqa: F401
from sending.models.egress import (  # noqa: F401
    ConfigSet,
    EgressAddress,
    IpPool,
    WarmupDay,
    WarmupType,
)
from sending.models.feedback import BounceWarning  # noqa: F401
from sending.models.identities import (  # noqa: F401
    CHECK_PATIENCE,
    AliveQuerySet,
    CheckStatus,
    DkimKey,
    DkimKeyStatus,
    DnsRecordCheck,
    Domain,
    DomainStatus,
    RecordKind,
    SenderAddress,
    SendType,
    Tag,
)
from sending.models.lists import (  # noqa: F401
    STANDARD_FIELDS,
    ImportFileChunk,
    ImportMode,
    ImportStatus,
    Recipient,
    RecipientImport,
    RecipientList,
)
from sending.models.messages import (  # noqa: F401
    FILTER_LEVELS,
    CapturedMessage,
    DeliveryAttempt,
    Envelope,
    EnvelopeAttachment,
    EventType,
    Message,
    MessageEvent,
    MessageState,
    QuotaCounter,
    Suppression,
    SuppressionReason,
    suppression_applies,
    suppression_scopes,
)
from sending.models.reports import DmarcReport, DmarcRow  # noqa: F401
from sending.models.shaping import (  # noqa: F401
    DomainProvider,
    ProviderLimit,
    ShapingCounter,
    ShapingRule,
    ShapingSlot,
    Suspension,
)
from sending.models.tls import MtaStsPolicy, TlsOutcome, TlsReport, TlsReportDelivery  # noqa: F401
from sending.models.validation import GraylistCheck, ValidationCounter, ValidationJob  # noqa: F401
