"""Who the Teams bot is and whom it trusts: botbuilder's authentication for a single-tenant bot.

Inbound, the Bot Connector signs every activity with a JWT (iss https://api.botframework.com,
aud = our app id, serviceurl = the activity's serviceUrl) whose keys are published as OpenID
metadata; outbound, the bot gets its own token from Entra ID (client credentials, in its own
tenant) and sends it to the Bot Connector. `Endpoints` holds every URL of that exchange: the
defaults are the SDK's public-cloud ones, and tests point them all at a loopback fake
(tests/fakes/teams_api.py), so that the real CloudAdapter runs with authentication on.

Everything goes through the SDK's parameterized authentication (the one the documented
configuration keys TO_BOT_FROM_CHANNEL_OPENID_METADATA_URL, TO_CHANNEL_FROM_BOT_LOGIN_URL, ...
select), in production as in the tests, so the code the tests exercise is the code that runs.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from types import SimpleNamespace

import requests
from botbuilder.core import CloudAdapterBase
from botbuilder.integration.aiohttp import ConfigurationBotFrameworkAuthentication
from botbuilder.schema import Activity, CallerIdConstants
from botframework.connector.aio import ConnectorClient
from botframework.connector.auth import (
    AuthenticateRequestResult,
    AuthenticationConstants,
    BotFrameworkAuthentication,
    ClaimsIdentity,
    ConnectorFactory,
    MicrosoftAppCredentials,
    PasswordServiceClientCredentialFactory,
    UserTokenClient,
)
from msal import ConfidentialClientApplication
from msrest.authentication import Authentication

from adapters.teams.transport import LoopSessions, over_aiohttp

_log = logging.getLogger(__name__)

ACCEPTED_TOKENS = 1000  # tokens remembered as checked (one per Bot Connector region and hour)


class NoBotToken(RuntimeError):
    """Entra ID gave the bot no token for the Bot Connector. Not a PermissionError on purpose:
    CloudAdapter answers those with 401, which would blame the channel for our credentials."""


@dataclass(frozen=True)
class Endpoints:
    """The Microsoft services the bot talks to. The defaults are production (public cloud)."""

    # Inbound: OpenID metadata whose JWKS holds the keys that sign the Bot Connector's tokens
    # (ToBotFromChannelOpenIdMetadataUrl); each key lists the channels it may speak for.
    channel_openid_metadata: str = AuthenticationConstants.TO_BOT_FROM_CHANNEL_OPENID_METADATA_URL
    # Inbound from the Bot Framework Emulator. Teams never sends such tokens, but a token with an
    # Entra ID issuer is checked against these keys, so it must not point at the internet in tests.
    emulator_openid_metadata: str = AuthenticationConstants.TO_BOT_FROM_EMULATOR_OPENID_METADATA_URL
    # Outbound: the Entra ID instance MSAL gets the bot's token from; "/<tenant id>" is appended.
    login: str = AuthenticationConstants.TO_CHANNEL_FROM_BOT_LOGIN_URL_PREFIX.rstrip("/")
    # Outbound: the audience of that token (ToChannelFromBotOAuthScope).
    oauth_scope: str = AuthenticationConstants.TO_CHANNEL_FROM_BOT_OAUTH_SCOPE
    # The Bot Framework token service (user sign-in). The bot never signs users in, but the SDK
    # builds a client for it on every turn.
    token_service: str = AuthenticationConstants.OAUTH_URL
    # MSAL's instance discovery asks login.microsoftonline.com whether `login` is a real Entra ID
    # instance. Microsoft's own hosts skip it anyway; anything else (a loopback fake) must not ask.
    validate_authority: bool = True


def bot_authentication(app_id: str, password: str, tenant_id: str,
                       endpoints: Endpoints | None = None) -> BotFrameworkAuthentication:
    """The authentication for `CloudAdapter(...)`. With an empty `app_id` nothing is checked and
    no token is sent (local testing, e.g. with the Emulator); the caller warns about that."""
    if app_id and not (password and tenant_id):
        raise ValueError("a single-tenant bot needs MICROSOFT_APP_PASSWORD and MICROSOFT_APP_TENANT_ID")
    configuration = sdk_configuration(tenant_id, endpoints or Endpoints())
    return _Authentication(configuration,
                           credentials_factory=_SingleTenantCredentials(app_id, password, tenant_id))


async def close_connections(adapter: CloudAdapterBase) -> None:
    """Close the adapter's connections to the Bot Connector made on the running event loop."""
    if isinstance(adapter.bot_framework_authentication, _Authentication):
        await adapter.bot_framework_authentication.close()


def sdk_configuration(tenant_id: str, endpoints: Endpoints) -> SimpleNamespace:
    """The configuration keys ConfigurationBotFrameworkAuthentication reads; setting any of the
    URL ones selects the SDK's parameterized authentication instead of its built-in public
    cloud, whose inbound URLs are hard-coded."""
    return SimpleNamespace(
        TO_BOT_FROM_CHANNEL_OPENID_METADATA_URL=endpoints.channel_openid_metadata,
        TO_BOT_FROM_EMULATOR_OPENID_METADATA_URL=endpoints.emulator_openid_metadata,
        TO_BOT_FROM_CHANNEL_TOKEN_ISSUER=AuthenticationConstants.TO_BOT_FROM_CHANNEL_TOKEN_ISSUER,
        # The authority itself: single tenant, so the bot's own tenant, never botframework.com.
        TO_CHANNEL_FROM_BOT_LOGIN_URL=f"{endpoints.login.rstrip('/')}/{tenant_id}",
        TO_CHANNEL_FROM_BOT_OAUTH_SCOPE=endpoints.oauth_scope,
        OAUTH_URL=endpoints.token_service,
        CALLER_ID=CallerIdConstants.public_azure_channel,  # what the built-in public cloud sets
        VALIDATE_AUTHORITY=endpoints.validate_authority,
    )


class _Authentication(ConfigurationBotFrameworkAuthentication):
    """The SDK's authentication, refusing every bad token with PermissionError (CloudAdapter's
    401). As shipped, 4.17's parameterized path lets a forged signature, an expired token, an
    unknown key id or a malformed token escape as other exceptions (answered 500, as if the bot
    were broken), and treats a missing Authorization header ("" from CloudAdapter) as a token
    to check, which fails with 500 even when authentication is off (local testing).

    It also keeps the clients it makes. As shipped, every turn and every proactive send builds
    a new ConnectorClient and a new (never used) UserTokenClient; each builds msrest's retry
    policy, about 5 ms of CPU, and its own requests session, hence a new TLS connection to the
    Bot Connector. Here one client per (app id, service URL, audience) serves the process: its
    credentials ask the shared MSAL app for the token on every request, and MSAL renews it
    before it expires, so a kept client never sends a stale token. Its requests go over aiohttp
    (adapters/teams/transport.py), which never retries on its own: the dispatcher retries,
    honouring Retry-After and keeping each conversation's order.

    And it remembers the tokens it accepted. The Bot Connector signs its activities with one
    token for about an hour, and checking it (signature, issuer, audience, the channel's
    endorsement, the serviceUrl claim) was two fifths of handling an activity. A token is
    taken without a second check only with the same channel and serviceUrl it was checked
    against, and only until it expires; anything else is checked by the SDK as before. (A
    signing key Microsoft withdraws is noticed when its token next needs checking, at the
    latest within the hour; the SDK itself refreshes the published keys only daily.)
    """

    def __init__(self, configuration: object, *, credentials_factory: _SingleTenantCredentials) -> None:
        super().__init__(configuration, credentials_factory=credentials_factory)
        # A turn asks for the channel's audience by name, a proactive send leaves it out: the
        # same client either way, as the SDK's factory falls back to this one.
        self._audience: str | None = getattr(configuration, "TO_CHANNEL_FROM_BOT_OAUTH_SCOPE", None)
        # A handful of entries: one per Bot Connector region the bot hears from.
        self._connectors: dict[tuple[str | None, str, str | None], ConnectorClient] = {}
        self._token_clients: dict[str | None, UserTokenClient] = {}
        self._sender = LoopSessions()
        # (Authorization header, channel, serviceUrl) -> (expiry, the SDK's result for it)
        self._accepted: OrderedDict[tuple[str, str, str], tuple[float, AuthenticateRequestResult]] = OrderedDict()

    async def close(self) -> None:
        """Close the connections to the Bot Connector made on the running event loop."""
        await self._sender.close()

    async def authenticate_request(self, activity: Activity, auth_header: str) -> AuthenticateRequestResult:
        if not activity.service_url:
            # The SDK compares a token's serviceurl claim only with a serviceUrl the activity
            # has: without one, any token of the Bot Connector's (replayed from another
            # activity) passed for anything, and the conversation was remembered with nowhere
            # to answer, so that the bot's posts there failed from then on.
            _log.warning("refused a Teams activity without a serviceUrl")
            raise PermissionError("an activity without a serviceUrl")
        key = (auth_header, str(activity.channel_id), str(activity.service_url)) if auth_header else None
        kept = self._accepted.get(key) if key else None
        if kept is not None and kept[0] > time.time():
            return kept[1]
        result = await self._check(activity, auth_header)
        expires = (result.claims_identity.claims or {}).get("exp") if result.claims_identity else None
        if key is not None and isinstance(expires, int | float):
            self._accepted[key] = (float(expires), result)
            self._accepted.move_to_end(key)
            while len(self._accepted) > ACCEPTED_TOKENS:
                self._accepted.popitem(last=False)
        return result

    async def _check(self, activity: Activity, auth_header: str) -> AuthenticateRequestResult:
        try:
            result = await super().authenticate_request(activity, auth_header or None)
        except requests.RequestException:
            raise  # the signing keys could not be fetched: our trouble, not the caller's (500)
        except PermissionError as refusal:
            _log.warning("refused a Teams activity: %s", refusal)
            raise
        except Exception as error:  # jwt's errors, and the SDK's IndexError/KeyError/Exception
            _log.warning("refused a Teams activity: %s: %s", type(error).__name__, error)
            raise PermissionError(f"invalid token: {error}") from error
        if result.connector_factory is not None:  # the turn's replies go through the kept clients
            result.connector_factory = self.create_connector_factory(result.claims_identity)
        return result

    def create_connector_factory(self, claims_identity: ClaimsIdentity) -> ConnectorFactory:
        return _KeptConnectors(super().create_connector_factory(claims_identity),
                               _app_id(claims_identity), self._audience, self._connectors, self._sender)

    async def create_user_token_client(self, claims_identity: ClaimsIdentity) -> UserTokenClient:
        """For signing users in, which this bot never does; CloudAdapter makes one every turn."""
        app_id = _app_id(claims_identity)
        client = self._token_clients.get(app_id)
        if client is None:
            client = await super().create_user_token_client(claims_identity)
            client = self._token_clients.setdefault(app_id, client)
        return client


class _KeptConnectors(ConnectorFactory):
    """The SDK's connector factory, making each client once. A client may serve many turns at
    once, on any event loop: msrest keeps no state of a request on it, and its sender keeps a
    session per loop."""

    def __init__(self, factory: ConnectorFactory, app_id: str | None, default_audience: str | None,
                 kept: dict[tuple[str | None, str, str | None], ConnectorClient], sender: LoopSessions) -> None:
        self._factory = factory
        self._app_id = app_id
        self._default_audience = default_audience
        self._kept = kept
        self._sender = sender

    async def create(self, service_url: str, audience: str | None = None) -> ConnectorClient:
        key = (self._app_id, service_url, audience or self._default_audience)
        client = self._kept.get(key)
        if client is None:  # two first turns at once may both make one; the first one kept wins
            made = over_aiohttp(await self._factory.create(service_url, audience), self._sender)
            client = self._kept.setdefault(key, made)
        return client


def _app_id(claims_identity: ClaimsIdentity) -> str | None:
    """Whose credentials the SDK's factories use: as its _BuiltinBotFrameworkAuthentication.get_app_id."""
    app_id: str | None = claims_identity.get_claim_value(AuthenticationConstants.AUDIENCE_CLAIM)
    if app_id is None:
        app_id = claims_identity.get_claim_value(AuthenticationConstants.APP_ID_CLAIM)
    return app_id


class _SingleTenantCredentials(PasswordServiceClientCredentialFactory):
    """The SDK's password credentials, with two things fixed:

    - for a login URL that is not login.microsoftonline.com, 4.17 drops `validate_authority`,
      so MSAL would run instance discovery against login.microsoftonline.com;
    - it builds a new MSAL app, hence a new token request, for every turn; here one MSAL app
      (and its token cache) per authority serves the process until the token expires.
    """

    def __init__(self, app_id: str, password: str, tenant_id: str) -> None:
        super().__init__(app_id, password, tenant_id)
        self._apps: dict[tuple[str, bool], ConfidentialClientApplication] = {}
        self._lock = threading.Lock()  # MSAL apps are made on whichever thread asks first

    async def create_credentials(self, app_id: str, oauth_scope: str, login_endpoint: str,
                                 validate_authority: bool) -> Authentication:
        if await self.is_authentication_disabled():
            return MicrosoftAppCredentials.empty()  # sends no Authorization header
        if not await self.is_valid_app_id(app_id):
            raise PermissionError(f"not this bot's app id: {app_id!r}")
        return _MsalCredentials(app_id, oauth_scope,
                                partial(self._msal_app, login_endpoint, validate_authority))

    def _msal_app(self, authority: str, validate_authority: bool) -> ConfidentialClientApplication:
        with self._lock:
            app = self._apps.get((authority, validate_authority))
            if app is None:  # MSAL fetches the authority's OpenID configuration right here
                app = ConfidentialClientApplication(
                    self.app_id, client_credential=self.password, authority=authority,
                    validate_authority=validate_authority)
                self._apps[(authority, validate_authority)] = app
            return app


class _MsalCredentials(MicrosoftAppCredentials):
    """What msrest signs each Bot Connector request with: a token from a shared MSAL app, made
    when the first request is sent (as the SDK does), not when a turn starts."""

    def __init__(self, app_id: str, oauth_scope: str,
                 msal_app: Callable[[], ConfidentialClientApplication]) -> None:
        super().__init__(app_id, "", oauth_scope=oauth_scope)
        self._msal_app = msal_app

    def get_access_token(self, force_refresh: bool = False) -> str:
        scope = self.oauth_scope if self.oauth_scope.endswith("/.default") else f"{self.oauth_scope}/.default"
        # MSAL answers from its cache until the token is about to expire.
        result = self._msal_app().acquire_token_for_client(scopes=[scope])
        if "access_token" not in result:
            raise NoBotToken(f"{result.get('error')}: {result.get('error_description')}")
        return str(result["access_token"])
