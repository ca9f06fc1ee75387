"""Bearer JWT auth. Claims carry `sub`, `tenant`, `roles`; algorithms are pinned and
`exp` is required. Dev mode verifies HS256 with a shared key; production reads a JWKS."""

from __future__ import annotations

import time
from dataclasses import dataclass

import jwt
from fastapi import Depends, Request

from summit_common.problems import Problem

PLATFORM_ADMIN = "platform-admin"
_ASYMMETRIC = ["RS256", "ES256", "EdDSA"]


@dataclass(frozen=True)
class Principal:
    sub: str
    tenant: str
    roles: frozenset[str]

    def has(self, role: str) -> bool:
        return role in self.roles or PLATFORM_ADMIN in self.roles

    def can_see(self, tenant: str) -> bool:
        return tenant == self.tenant or PLATFORM_ADMIN in self.roles


class TokenVerifier:
    def __init__(self, *, secret: str = "", jwks_url: str = "", issuer: str = "summit", audience: str = "") -> None:
        if not secret and not jwks_url:
            raise ValueError("set SUMMIT_JWT_SECRET (dev) or SUMMIT_JWT_JWKS_URL (production)")
        self._secret = secret
        self._jwks = jwt.PyJWKClient(jwks_url, cache_keys=True) if jwks_url else None
        self._issuer = issuer
        self._audience = audience or None

    def verify(self, token: str) -> Principal:
        try:
            if self._jwks is not None:
                key = self._jwks.get_signing_key_from_jwt(token).key
                algorithms = _ASYMMETRIC
            else:
                key, algorithms = self._secret, ["HS256"]
            claims = jwt.decode(
                token,
                key,
                algorithms=algorithms,
                issuer=self._issuer,
                audience=self._audience,
                options={"require": ["exp", "sub", "tenant"], "verify_aud": self._audience is not None},
            )
        except jwt.PyJWTError as exc:
            raise Problem(401, "invalid token", str(exc), headers={"WWW-Authenticate": 'Bearer error="invalid_token"'}) from None
        roles = claims.get("roles") or []
        if isinstance(roles, str):
            roles = roles.split(",")
        return Principal(sub=str(claims["sub"]), tenant=str(claims["tenant"]), roles=frozenset(roles))


def mint_token(secret: str, *, sub: str, tenant: str, roles: list[str] | tuple[str, ...] = (), ttl_seconds: int = 3600, issuer: str = "summit") -> str:
    now = int(time.time())
    claims = {"sub": sub, "tenant": tenant, "roles": list(roles), "iat": now, "exp": now + ttl_seconds, "iss": issuer}
    return jwt.encode(claims, secret, algorithm="HS256")


def current_principal(request: Request) -> Principal:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise Problem(401, "missing bearer token", "send Authorization: Bearer <jwt>", headers={"WWW-Authenticate": "Bearer"})
    principal = request.app.state.verifier.verify(token.strip())
    request.state.principal = principal
    return principal


def require_role(*roles: str):
    """Dependency: the caller must hold one of `roles` (platform-admin holds every role)."""

    def check(principal: Principal = Depends(current_principal)) -> Principal:
        if not any(principal.has(role) for role in roles):
            raise Problem(403, "forbidden", f"this action needs one of the roles: {', '.join(roles)}")
        return principal

    return check
