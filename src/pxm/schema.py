"""Every table of PXM, imported for Alembic autogenerate. Add each feature's models module here."""

from pxm.analytics.study import models as study_models  # noqa: F401
from pxm.operations.routing import models as routing_models
from pxm.platform.audit import models as audit_models
from pxm.platform.auth import models as auth_models
from pxm.platform.http import models as http_models
from pxm.platform.jobs import models as jobs_models
from pxm.platform.people import models as people_models
from pxm.practices.feedback import models as feedback_models
from pxm.practices.feedback.complaints import models as complaints_models  # noqa: F401
from pxm.practices.feedback.loop import models as loop_models  # noqa: F401
from pxm.practices.feedback.reviews import models as reviews_models  # noqa: F401
from pxm.practices.feedback.text import models as feedback_text_models  # noqa: F401
from pxm.practices.resolution import models as resolution_models

__all__ = ["feedback_models", "audit_models", "auth_models", "http_models", "jobs_models", "people_models", "resolution_models",
           "routing_models"]
