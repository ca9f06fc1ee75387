"""Value types shared by several event families."""

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

NonEmpty = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
FreeText = Annotated[str, StringConstraints(max_length=10_000)]


class ExternalRef(BaseModel):
    """A participant as a source system knows them, e.g. system='kintell', id='K-1042'."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    system: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,39}$")]
    id: NonEmpty


Score5 = Annotated[int, Field(ge=1, le=5)]
