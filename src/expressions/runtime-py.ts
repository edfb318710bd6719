/**
 * The Python half of the expression runtime, run once in the worker's interpreter (worker.ts) before the worker locks
 * itself down. It rebuilds what authentik's evaluators give an expression (authentik/lib/expression/evaluator.py,
 * BaseEvaluator; authentik/policies/expression/evaluator.py, PolicyEvaluator) over JSON data and synchronous calls to
 * Keystage (`_host_call`, the worker's bridge):
 *
 * - the expression is wrapped into `def handler(<names>):` exactly as authentik does (textwrap.indent by four spaces,
 *   then `result = handler(<names>)`), so `return` works, a missing return is None, and line N of the admin's text is
 *   line N + 1 of the compiled code (every line number this module reports is the admin's);
 * - `request` becomes a PolicyRequest (`user`, `http_request`, `obj`, `context`, `debug`) whose users are User objects
 *   (`context["pending_user"]` too), and ak_is_sso_flow, ak_client_ip, http_request and context are derived from it as
 *   PolicyEvaluator.set_policy_request does;
 * - everything the expression can produce is bounded here (messages, log lines) and again in JavaScript, which does not
 *   trust this module: an expression runs in the same interpreter and can change it.
 *
 * Kept as a string (String.raw: no template substitutions, backslashes as written) so the worker bundle carries it.
 */
export const RUNTIME_PY = String.raw`
import builtins as _builtins
import json as _json
import keyword as _keyword
import math as _math
import re as _re
import sys as _sys
import textwrap as _textwrap
import traceback as _traceback
import types as _types
import unicodedata as _unicodedata
from datetime import date as _date, datetime as _datetime, time as _time
from decimal import Decimal as _Decimal
from ipaddress import ip_address, ip_network, _BaseAddress, _BaseNetwork
from uuid import UUID as _UUID

MAX_MESSAGES = 100
MAX_MESSAGE_CHARS = 2000
MAX_LOGS = 100
MAX_LOG_CHARS = 4000
MAX_REPR_CHARS = 2000
CODE_CACHE_SIZE = 128

# the names an expression policy's handler receives (PolicyEvaluator's context); checkSyntax compiles with these
POLICY_NAMES = ("ak_message", "ak_user_has_authenticator", "ak_is_sso_flow", "ak_client_ip", "http_request", "request", "context")

_host_call = None  # set by _install: the worker's bridge, (name, json) -> json
_run = None  # the evaluation in progress


class _Run:
    def __init__(self, host_names, filename):
        self.host_names = frozenset(host_names)
        self.filename = filename
        self.given = {}  # the globals as given (request as a PolicyRequest): ak_call_policy runs others with them
        self.depth = 0  # expression policies ak_call_policy is running inside this one
        self.messages = []
        self.messages_dropped = 0
        self.logs = []
        self.logs_dropped = 0
        self.config = None  # authentik.lib.config's settings, asked of Keystage on first use
        self.plan_redirects = []  # FlowPlan.redirect() calls, in order


def _current():
    if _run is None:
        raise RuntimeError("no expression is being evaluated")
    return _run


def _truncate(text, limit):
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


def _short_repr(value):
    try:
        return _truncate(repr(value), MAX_REPR_CHARS)
    except Exception as exc:  # a __repr__ that raises
        return "<unrepresentable %s: %s>" % (type(value).__name__, type(exc).__name__)


# ---------------------------------------------------------------------------------------------------------------------
# JSON in and out


def _to_json(value, depth=0):
    """value as JSON data: authentik's models as their data, IPs, UUIDs and decimals as strings, dates in ISO 8601;
    anything else as its repr() (a policy only needs its truthiness)"""
    if depth > 64:
        raise ValueError("the result is nested too deeply")
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if _math.isfinite(value) else repr(value)
    if isinstance(value, _Wrapped):
        return _to_json(object.__getattribute__(value, "_data"), depth + 1)
    if isinstance(value, dict):
        return {(k if isinstance(k, str) else str(k)): _to_json(v, depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset, _types.GeneratorType, QuerySet)):
        return [_to_json(v, depth + 1) for v in value]
    if isinstance(value, (_datetime, _date, _time)):
        return value.isoformat()
    if isinstance(value, (_BaseAddress, _BaseNetwork, _UUID, _Decimal)):
        return str(value)
    if isinstance(value, PolicyResult):
        return {"passing": value.passing, "messages": list(value.messages), "raw_result": _to_json(value.raw_result, depth + 1)}
    return _short_repr(value)


def _arg_json(value):
    """json.dumps default for arguments sent to Keystage"""
    if isinstance(value, _Wrapped):
        return object.__getattribute__(value, "_data")
    if isinstance(value, (set, frozenset, tuple, QuerySet)):
        return list(value)
    if isinstance(value, (_datetime, _date, _time)):
        return value.isoformat()
    return str(value)


def _host(name, *args):
    """a synchronous call to Keystage (a host callback); its error becomes a ValueError here"""
    run = _current()
    if name not in run.host_names:
        raise NotImplementedError("%s() is not available in this context" % name)
    answer = _json.loads(_host_call(name, _json.dumps(list(args), default=_arg_json)))
    if answer.get("ok"):
        return answer.get("value")
    raise ValueError(answer.get("error") or "%s() failed" % name)


_KIND_NAMES = {dict: "object", list: "list", bool: "boolean", int: "number"}


def _host_typed(name, kind, *args):
    """a host call whose answer must be of the kind given (dict, list, bool or int): anything else raises, so that an
    expression never goes on with an empty stand-in (CONFIG's defaults, no groups) where Keystage's answer was meant
    (fail closed)"""
    answer = _host(name, *args)
    if not isinstance(answer, kind) or (kind is int and isinstance(answer, bool)):
        raise ValueError("%s() gave no %s" % (name, _KIND_NAMES[kind]))
    return answer


# ---------------------------------------------------------------------------------------------------------------------
# authentik's objects, over JSON data


class _Wrapped:
    """a Django model instance as expressions see it: its fields as attributes (AttributeError for a missing one)"""

    __slots__ = ("_data",)
    _model = "Model"

    def __init__(self, data):
        object.__setattr__(self, "_data", dict(data) if isinstance(data, dict) else {})

    def __getattr__(self, name):
        data = object.__getattribute__(self, "_data")
        if name in data:
            return data[name]
        raise AttributeError("'%s' object has no attribute '%s'" % (type(self).__name__, name))

    def __setattr__(self, name, value):
        object.__getattribute__(self, "_data")[name] = value

    def __eq__(self, other):
        if type(self) is not type(other):
            return NotImplemented
        mine = object.__getattribute__(self, "_data").get("pk")
        return mine is not None and mine == object.__getattribute__(other, "_data").get("pk")

    def __hash__(self):
        return hash((type(self).__name__, object.__getattribute__(self, "_data").get("pk")))

    def __str__(self):
        data = object.__getattribute__(self, "_data")
        for key in ("name", "slug", "pk"):
            if data.get(key) is not None:
                return str(data[key])
        return type(self).__name__

    def __repr__(self):
        return "<%s: %s>" % (self._model, str(self))

    def __dir__(self):
        return sorted(set(object.__dir__(self)) | set(object.__getattribute__(self, "_data")))


class Model(_Wrapped):
    """request.obj, context["application"], context["flow_plan"] and other objects"""


class FlowPlan(Model):
    """context["flow_plan"]: its context (a dict the expression may change) and authentik's redirect()"""

    _model = "FlowPlan"

    def redirect(self, destination):
        """authentik's FlowPlan.redirect: a redirect stage as the next stage"""
        run = _current()
        if len(run.plan_redirects) >= 10:
            raise ValueError("flow_plan.redirect() called too often")
        run.plan_redirects.append(str(destination))


class Source(Model):
    """a source (its pk, slug, name) and authentik's Source.get_user_path()"""

    _model = "Source"

    def get_user_path(self):
        data = object.__getattribute__(self, "_data")
        template = data.get("user_path_template") or "goauthentik.io/sources/%(slug)s"
        return template % {"slug": data.get("slug", "")}


class LDAPAttributes(dict):
    """an LDAP entry's attributes, names case-insensitive as ldap3's CaseInsensitiveDict"""

    def __init__(self, data):
        super().__init__(data)
        self._lower = {str(k).lower(): k for k in data}

    def _key(self, key):
        return self._lower.get(str(key).lower(), key)

    def __getitem__(self, key):
        return super().__getitem__(self._key(key))

    def __contains__(self, key):
        return super().__contains__(self._key(key))

    def get(self, key, default=None):
        return super().get(self._key(key), default)


class Group(_Wrapped):
    _model = "Group"

    @property
    def pk(self):
        data = object.__getattribute__(self, "_data")
        return data.get("pk", data.get("group_uuid"))

    @property
    def is_superuser(self):
        return bool(object.__getattribute__(self, "_data").get("is_superuser", False))

    @property
    def attributes(self):
        data = object.__getattribute__(self, "_data")
        return data.setdefault("attributes", {})


class ApplicationEntitlement(_Wrapped):
    _model = "ApplicationEntitlement"

    @property
    def attributes(self):
        data = object.__getattribute__(self, "_data")
        return data.setdefault("attributes", {})


class ObjectDoesNotExist(Exception):
    pass


class MultipleObjectsReturned(Exception):
    pass


_MISSING = object()


def _field(obj, path):
    for part in path:
        if isinstance(obj, dict):
            obj = obj.get(part, _MISSING)
        else:
            obj = getattr(obj, part, _MISSING)
        if obj is _MISSING:
            return _MISSING
    return obj


def _lookup(value, op, expected):
    if op == "isnull":
        return (value is _MISSING or value is None) == bool(expected)
    if value is _MISSING:
        return False
    if op == "exact":
        return value == expected
    if op == "iexact":
        return str(value).lower() == str(expected).lower()
    if op == "contains":
        return str(expected) in str(value)
    if op == "icontains":
        return str(expected).lower() in str(value).lower()
    if op == "startswith":
        return str(value).startswith(str(expected))
    if op == "istartswith":
        return str(value).lower().startswith(str(expected).lower())
    if op == "endswith":
        return str(value).endswith(str(expected))
    if op == "iendswith":
        return str(value).lower().endswith(str(expected).lower())
    if op == "in":
        return value in list(expected)
    if op == "regex":
        return _re.search(expected, str(value)) is not None
    if op == "iregex":
        return _re.search(expected, str(value), _re.IGNORECASE) is not None
    if value is None or expected is None:
        return False
    if op == "gt":
        return value > expected
    if op == "gte":
        return value >= expected
    if op == "lt":
        return value < expected
    if op == "lte":
        return value <= expected
    raise ValueError("unsupported lookup '%s'" % op)


_LOOKUPS = {"exact", "iexact", "contains", "icontains", "startswith", "istartswith", "endswith", "iendswith", "in",
            "regex", "iregex", "gt", "gte", "lt", "lte", "isnull"}


def _matches(item, filters):
    for key, expected in filters.items():
        path = key.split("__")
        op = "exact"
        if len(path) > 1 and path[-1] in _LOOKUPS:
            op = path.pop()
        if isinstance(expected, _Wrapped):
            expected = object.__getattribute__(expected, "_data").get("pk")
            if path[-1] != "pk":
                path.append("pk")
        if not _lookup(_field(item, path), op, expected):
            return False
    return True


class QuerySet:
    """the part of Django's QuerySet expressions use on user.ak_groups and user.all_groups(), over a list"""

    def __init__(self, items):
        self._items = list(items)

    def all(self):
        return QuerySet(self._items)

    def filter(self, **filters):
        return QuerySet(i for i in self._items if _matches(i, filters))

    def exclude(self, **filters):
        return QuerySet(i for i in self._items if not _matches(i, filters))

    def get(self, **filters):
        found = self.filter(**filters)._items
        if not found:
            raise ObjectDoesNotExist("matching query does not exist.")
        if len(found) > 1:
            raise MultipleObjectsReturned("get() returned more than one object -- it returned %d!" % len(found))
        return found[0]

    def order_by(self, *fields):
        items = list(self._items)
        for key in reversed(fields):
            reverse = key.startswith("-")
            path = key.lstrip("-").split("__")
            items.sort(key=lambda i: (_field(i, path) is _MISSING, str(_field(i, path))), reverse=reverse)
        return QuerySet(items)

    def values_list(self, *fields, flat=False):
        if flat:
            if len(fields) != 1:
                raise TypeError("'flat' is not valid when values_list is called with more than one field.")
            return [_field(i, fields[0].split("__")) for i in self._items]
        return [tuple(_field(i, f.split("__")) for f in fields) for i in self._items]

    def values(self, *fields):
        return [{f: _field(i, f.split("__")) for f in fields} if fields else _to_json(i) for i in self._items]

    def first(self):
        return self._items[0] if self._items else None

    def last(self):
        return self._items[-1] if self._items else None

    def exists(self):
        return bool(self._items)

    def count(self):
        return len(self._items)

    def __iter__(self):
        return iter(self._items)

    def __len__(self):
        return len(self._items)

    def __bool__(self):
        return bool(self._items)

    def __getitem__(self, index):
        if isinstance(index, slice):
            return QuerySet(self._items[index])
        return self._items[index]

    def __repr__(self):
        return "<QuerySet %r>" % (self._items,)


_USER_DATES = ("date_joined", "last_login", "password_change_date")


def _merge(target, source):
    """deepmerge's always_merger: dicts recursively, lists appended, anything else replaced"""
    for key, value in source.items():
        if isinstance(value, dict) and isinstance(target.get(key), dict):
            _merge(target[key], value)
        elif isinstance(value, list) and isinstance(target.get(key), list):
            target[key] = target[key] + value
        else:
            target[key] = value
    return target


class User(_Wrapped):
    """authentik's User: its data from Keystage, groups fetched from Keystage the first time they are asked for"""

    __slots__ = ("_groups",)
    _model = "User"

    def __init__(self, data):
        super().__init__(data)
        object.__setattr__(self, "_groups", {})
        data = object.__getattribute__(self, "_data")
        for key in _USER_DATES:
            if isinstance(data.get(key), str):
                try:
                    data[key] = _datetime.fromisoformat(data[key])
                except ValueError:
                    pass

    def _get(self, key, default=None):
        return object.__getattribute__(self, "_data").get(key, default)

    pk = property(lambda self: self._get("pk"))
    id = property(lambda self: self._get("pk"))
    username = property(lambda self: self._get("username", ""))
    email = property(lambda self: self._get("email", ""))
    name = property(lambda self: self._get("name", ""))
    is_active = property(lambda self: bool(self._get("is_active", True)))
    is_superuser = property(lambda self: bool(self._get("is_superuser", False)))
    is_staff = property(lambda self: bool(self._get("is_staff", self._get("is_superuser", False))))
    is_authenticated = property(lambda self: bool(self._get("is_authenticated", True)))
    is_anonymous = property(lambda self: not self.is_authenticated)
    # (given where Keystage computes them: a SCIM provider's mappings)
    uid = property(lambda self: self._get("uid", ""))
    avatar = property(lambda self: self._get("avatar", ""))

    def locale(self, request=None):
        """authentik's User.locale(): the user's own setting, else ''"""
        settings = self.attributes.get("settings", {})
        return settings.get("locale", "") if isinstance(settings, dict) else ""

    @property
    def attributes(self):
        data = object.__getattribute__(self, "_data")
        if not isinstance(data.get("attributes"), dict):
            data["attributes"] = {}
        return data["attributes"]

    def _group_list(self, indirect):
        cache = object.__getattribute__(self, "_groups")
        if indirect not in cache:
            data = object.__getattribute__(self, "_data")
            given = data.get("all_groups" if indirect else "groups")
            if not isinstance(given, list):
                given = _host_typed("user_groups", list, data, indirect)
            cache[indirect] = [Group(g) for g in given]
        return cache[indirect]

    @property
    def ak_groups(self):
        return QuerySet(self._group_list(False))

    def all_groups(self):
        return QuerySet(self._group_list(True))

    def app_entitlements(self, app=None):
        """authentik's User.app_entitlements(app): the application's entitlements this user has, by name (asked of
        Keystage: the user and group bindings on each)"""
        if app is None or not self.is_authenticated or self.pk is None:
            return QuerySet([])
        if isinstance(app, dict):
            pk = app.get("pk")
        else:
            pk = getattr(app, "pk", app)
        if pk is None or "app_entitlements" not in _current().host_names:
            return QuerySet([])
        found = _host_typed("app_entitlements", list, object.__getattribute__(self, "_data"), str(pk))
        return QuerySet([ApplicationEntitlement(e) for e in found])

    def app_entitlements_attributes(self, app=None):
        """authentik's User.app_entitlements_attributes(app): their attributes merged in name order"""
        final = {}
        for entitlement in self.app_entitlements(app):
            _merge(final, entitlement.attributes)
        return final

    def group_attributes(self, request=None):
        """the attributes of all the user's groups (inherited ones too) merged in name order, then the user's own:
        the groups' part from Keystage (one call per user object), unless the user's data lists its groups"""
        if not self.is_authenticated:
            # as Django's AnonymousUser, which has no group_attributes
            raise AttributeError("'AnonymousUser' object has no attribute 'group_attributes'")
        data = object.__getattribute__(self, "_data")
        cache = object.__getattribute__(self, "_groups")
        if not isinstance(data.get("all_groups"), list) and "attributes" not in cache and "group_attributes" in _current().host_names:
            cache["attributes"] = _host_typed("group_attributes", dict, data) if self.pk is not None else {}
        if "attributes" in cache:
            merged = _json.loads(_json.dumps(cache["attributes"]))
        else:
            merged = {}
            for group in self.all_groups().order_by("name"):
                _merge(merged, _to_json(group.attributes))
        return _merge(merged, _to_json(self.attributes))

    def get_username(self):
        return self.username

    def __str__(self):
        return str(self.username)


class HttpHeaders:
    """Django's request.headers: case-insensitive, names as User-Agent"""

    def __init__(self, headers):
        self._h = {}
        for name, value in (headers or {}).items():
            if isinstance(value, list):
                value = ", ".join(str(v) for v in value)
            self._h[str(name).lower()] = (("-".join(p.capitalize() for p in str(name).split("-"))), str(value))

    def __getitem__(self, name):
        return self._h[str(name).lower().replace("_", "-")][1]

    def get(self, name, default=None):
        try:
            return self[name]
        except KeyError:
            return default

    def __contains__(self, name):
        return str(name).lower().replace("_", "-") in self._h

    def keys(self):
        return [k for k, _ in self._h.values()]

    def values(self):
        return [v for _, v in self._h.values()]

    def items(self):
        return list(self._h.values())

    def __iter__(self):
        return iter(self.keys())

    def __len__(self):
        return len(self._h)

    def __repr__(self):
        return repr(dict(self.items()))


class QueryDict(dict):
    """request.GET: the last value of a key, getlist() for all"""

    def __getitem__(self, key):
        value = dict.__getitem__(self, key)
        return value[-1] if isinstance(value, list) else value

    def get(self, key, default=None):
        try:
            return self[key]
        except (KeyError, IndexError):
            return default

    def getlist(self, key, default=None):
        value = dict.get(self, key, _MISSING)
        if value is _MISSING:
            return [] if default is None else default
        return list(value) if isinstance(value, list) else [value]


class HttpRequest:
    """the part of Django's HttpRequest expressions read: path, method, headers, META, GET, client IP"""

    def __init__(self, data):
        data = data if isinstance(data, dict) else {}
        self.path = str(data.get("path") or "/")
        self.path_info = self.path
        self.method = str(data.get("method") or "GET").upper()
        self.scheme = str(data.get("scheme") or "http")
        self.headers = HttpHeaders(data.get("headers"))
        self.client_ip = data.get("client_ip")
        self.GET = QueryDict(data.get("query") or {})
        self.user = User(data["user"]) if isinstance(data.get("user"), dict) else None
        meta = {"REQUEST_METHOD": self.method, "PATH_INFO": self.path, "QUERY_STRING": str(data.get("query_string") or "")}
        if self.client_ip:
            meta["REMOTE_ADDR"] = str(self.client_ip)
        for name, value in self.headers.items():
            key = name.upper().replace("-", "_")
            meta[key if key in ("CONTENT_TYPE", "CONTENT_LENGTH") else "HTTP_" + key] = value
        self.META = meta
        self._data = data

    def get_host(self):
        return self.headers.get("Host", "")

    def get_full_path(self):
        query = self.META["QUERY_STRING"]
        return self.path + ("?" + query if query else "")

    def is_secure(self):
        return self.scheme == "https"

    def __repr__(self):
        return "<HttpRequest: %s %r>" % (self.method, self.get_full_path())


class PolicyRequest:
    """authentik.policies.types.PolicyRequest"""

    def __init__(self, data):
        data = data if isinstance(data, dict) else {}
        user = data.get("user")
        self.user = User(user) if isinstance(user, dict) else User({"username": "AnonymousUser", "is_authenticated": False})
        self.http_request = HttpRequest(data["http_request"]) if isinstance(data.get("http_request"), dict) else None
        self.obj = Model(data["obj"]) if isinstance(data.get("obj"), dict) else data.get("obj")
        context = data.get("context")
        self.context = dict(context) if isinstance(context, dict) else {}
        if isinstance(self.context.get("pending_user"), dict):
            self.context["pending_user"] = User(self.context["pending_user"])
        if isinstance(self.context.get("application"), dict):
            self.context["application"] = Model(self.context["application"])
        # the source a login came through, as authentik's Source model (context["source"].provider_type)
        if isinstance(self.context.get("source"), dict):
            self.context["source"] = Source(self.context["source"])
        if isinstance(self.context.get("flow_plan"), dict):
            self.context["flow_plan"] = FlowPlan(self.context["flow_plan"])
        # the plan's own context holds the pending user as a User too (authentik's FlowPlan.context)
        plan = self.context.get("flow_plan")
        # what the expression may change in the flow context (_context_changes): the plan's context, and the values
        # the request's context shares with it (authentik's is a shallow copy: prompt_data changed in place persists)
        self._plan_before = None
        if isinstance(plan, Model):
            plan_context = object.__getattribute__(plan, "_data").get("context")
            if isinstance(plan_context, dict):
                self._plan_before = {k: _json.dumps(v, sort_keys=True) for k, v in plan_context.items() if k != "pending_user"}
                if isinstance(plan_context.get("pending_user"), dict):
                    plan_context["pending_user"] = User(plan_context["pending_user"])
        self._shared_before = {
            k: (v, _json.dumps(v, sort_keys=True))
            for k, v in self.context.items()
            if k not in ("flow_plan", "pending_user", "application", "source") and isinstance(v, (dict, list))
        }
        self.debug = bool(data.get("debug", False))

    def __str__(self):
        text = "<PolicyRequest user=%s" % (self.user,)
        if self.obj:
            text += " obj=%s" % (self.obj,)
        if self.http_request:
            text += " http_request=%s" % (self.http_request,)
        return text + ">"

    __repr__ = __str__


def _context_changes(request):
    """what the expression changed in the flow context: keys of context["flow_plan"].context set or removed, and
    values of request.context changed in place; None when nothing (values that are no JSON are left out)"""
    if not isinstance(request, PolicyRequest):
        return None
    changed = {}
    removed = []

    def encoded(value):
        try:
            data = _to_json(value)
            return data, _json.dumps(data, sort_keys=True)
        except (TypeError, ValueError):
            return None, None

    for key, (obj, before) in request._shared_before.items():
        if request.context.get(key) is obj:
            data, after = encoded(obj)
            if after is not None and after != before:
                changed[key] = data
    plan = request.context.get("flow_plan")
    before = request._plan_before
    if isinstance(plan, Model) and before is not None:
        plan_context = object.__getattribute__(plan, "_data").get("context")
        plan_context = plan_context if isinstance(plan_context, dict) else {}
        for key, value in plan_context.items():
            if key == "pending_user" or not isinstance(key, str):
                continue
            data, after = encoded(value)
            if after is not None and after != before.get(key):
                changed[key] = data
        removed = [key for key in before if key not in plan_context]
    redirects = list(_run.plan_redirects) if _run is not None else []
    if not changed and not removed and not redirects:
        return None
    answer = {"set": changed, "unset": removed}
    if redirects:
        answer["redirects"] = redirects
    return answer


class PolicyResult:
    """what ak_call_policy returns (authentik's PolicyResult: always truthy, read .passing)"""

    def __init__(self, passing, *messages):
        self.passing = passing
        self.messages = messages
        self.raw_result = None

    def __str__(self):
        if self.messages:
            return "<PolicyResult passing=%s messages=%s>" % (self.passing, self.messages)
        return "<PolicyResult passing=%s>" % (self.passing,)

    __repr__ = __str__


# ---------------------------------------------------------------------------------------------------------------------
# the functions authentik gives every expression


def _user_data(user):
    if isinstance(user, User):
        return object.__getattribute__(user, "_data")
    # as authentik: user.all_groups() on something that is no user
    raise AttributeError("'%s' object has no attribute 'all_groups'" % type(user).__name__)


def ak_message(message):
    run = _current()
    if len(run.messages) >= MAX_MESSAGES:
        run.messages_dropped += 1
        return
    run.messages.append(_truncate(str(message), MAX_MESSAGE_CHARS))


def regex_match(value, regex):
    return _re.search(regex, value) is not None


def regex_replace(value, regex, repl):
    return _re.sub(regex, repl, value)


def list_flatten(value):
    if isinstance(value, list):
        if len(value) < 1:
            return None
        return value[0]
    return value


def slugify(value, allow_unicode=False):
    """Django's slugify"""
    value = str(value)
    if allow_unicode:
        value = _unicodedata.normalize("NFKC", value)
    else:
        value = _unicodedata.normalize("NFKD", value).encode("ascii", "ignore").decode("ascii")
    value = _re.sub(r"[^\w\s-]", "", value.lower())
    return _re.sub(r"[-\s]+", "-", value).strip("-_")


def ak_is_group_member(user, **group_filters):
    return bool(_host("ak_is_group_member", _user_data(user), group_filters))


def ak_user_by(**filters):
    found = _host("ak_user_by", filters)
    return User(found) if isinstance(found, dict) else None


def ak_user_has_authenticator(user, device_type=None):
    return bool(_host("ak_user_has_authenticator", _user_data(user), device_type))


MAX_POLICY_DEPTH = 10


def ak_call_policy(name, **kwargs):
    """authentik: the named policy with the current request, its context updated with kwargs. Keystage answers with
    the result, or, for an expression policy, with its text, which runs here (Keystage cannot run it meanwhile: this
    interpreter is busy with the caller)"""
    answer = _host_typed("ak_call_policy", dict, name, kwargs)
    if isinstance(answer.get("expression"), str):
        return _call_expression(answer["expression"], str(answer.get("name") or name), kwargs)
    result = PolicyResult(bool(answer.get("passing")), *[str(m) for m in (answer.get("messages") or [])])
    result.raw_result = answer.get("raw_result")
    return result


def _call_expression(source, name, kwargs):
    run = _current()
    if run.depth >= MAX_POLICY_DEPTH:
        raise RecursionError("ak_call_policy: policies call each other more than %d deep" % MAX_POLICY_DEPTH)
    given = dict(run.given)
    request = given.get("request")
    if isinstance(request, PolicyRequest):
        copied = PolicyRequest.__new__(PolicyRequest)
        copied.__dict__.update(request.__dict__)
        copied.context = dict(request.context)
        request = copied
    else:
        request = PolicyRequest({})
    request.context.update(kwargs)
    given["request"] = request
    outer = run.messages
    run.messages = []
    run.depth += 1
    try:
        result = _execute(source, _handler_context(given), name)
    except MemoryError:
        raise
    except Exception as exc:  # as authentik's PolicyProcess: the policy fails with the error as its message
        failed = PolicyResult(False, str(exc))
        return failed
    finally:
        messages, run.messages = run.messages, outer
        run.depth -= 1
    called = PolicyResult(False if result is None else bool(result), *messages)
    called.raw_result = result
    return called


def ak_create_event(action, **kwargs):
    _host("ak_create_event", action, kwargs)


def _unavailable(name, why):
    def refuse(*args, **kwargs):
        raise NotImplementedError("%s is not available in Keystage: %s" % (name, why))

    refuse.__name__ = name
    return refuse


class _Unavailable:
    def __init__(self, name, why):
        self._why = "%s is not available in Keystage: %s" % (name, why)

    def __getattr__(self, name):
        raise NotImplementedError(self._why)

    def __call__(self, *args, **kwargs):
        raise NotImplementedError(self._why)

    def __repr__(self):
        return "<unavailable: %s>" % self._why


# ---------------------------------------------------------------------------------------------------------------------
# authentik's modules an expression may import: authentik.lib.config (CONFIG) and authentik.core.models (constants,
# User.objects).
# Rebuilt before each evaluation (what one expression changes in them is not seen by the next); any other authentik
# module is a ModuleNotFoundError, a Django model an ImportError, each saying so.


class _Config:
    """authentik.lib.config.CONFIG: the settings Keystage knows, asked of Keystage once per evaluation; any other key
    answers the default"""

    def _settings(self):
        run = _current()
        if run.config is None:
            if "config" not in run.host_names:
                raise NotImplementedError("authentik.lib.config.CONFIG is not available in this context (expression policies have it)")
            run.config = _host_typed("config", dict)
        return run.config

    def get(self, path, default=None, sep="."):
        value = self._settings()
        for part in str(path).split(sep):
            if not isinstance(value, dict) or part not in value:
                return default
            value = value[part]
        return _json.loads(_json.dumps(value))

    def get_int(self, path, default=0):
        try:
            return int(self.get(path, default))
        except (TypeError, ValueError):
            return default

    def get_bool(self, path, default=False):
        value = self.get(path, _MISSING)
        if value is _MISSING:
            return default
        return str(value).lower() == "true"

    def get_keys(self, path, sep="."):
        value = self.get(path, {}, sep)
        return list(value.keys()) if isinstance(value, dict) else []

    y = get
    y_bool = get_bool

    def __repr__(self):
        return "<authentik.lib.config.CONFIG>"


USER_ATTRIBUTES = {
    "USER_ATTRIBUTE_DEBUG": "goauthentik.io/user/debug",
    "USER_ATTRIBUTE_SA": "goauthentik.io/user/service-account",
    "USER_ATTRIBUTE_GENERATED": "goauthentik.io/user/generated",
    "USER_ATTRIBUTE_EXPIRES": "goauthentik.io/user/expires",
    "USER_ATTRIBUTE_DELETE_ON_LOGOUT": "goauthentik.io/user/delete-on-logout",
    "USER_ATTRIBUTE_SOURCES": "goauthentik.io/user/sources",
    "USER_ATTRIBUTE_TOKEN_EXPIRING": "goauthentik.io/user/token-expires",
    "USER_ATTRIBUTE_CHANGE_USERNAME": "goauthentik.io/user/can-change-username",
    "USER_ATTRIBUTE_CHANGE_NAME": "goauthentik.io/user/can-change-name",
    "USER_ATTRIBUTE_CHANGE_EMAIL": "goauthentik.io/user/can-change-email",
    "USER_ATTRIBUTE_CAN_OVERRIDE_IP": "goauthentik.io/user/override-ips",
    "USER_PATH_SYSTEM_PREFIX": "goauthentik.io",
    "USER_PATH_SERVICE_ACCOUNT": "goauthentik.io/service-accounts",
}

AUTHENTIK_MODULES = ("authentik", "authentik.lib", "authentik.lib.config", "authentik.core", "authentik.core.models")
_NO_MODULE = ("No module named '%s': Keystage's expressions have authentik.lib.config (CONFIG) and "
              "authentik.core.models (its USER_ATTRIBUTE_* constants and User.objects) only, not authentik's other modules")
_NO_ORM = ("cannot import name '%s' from 'authentik.core.models': the Django ORM is not available in Keystage's "
           "expressions beyond a read-only User.objects (use request.user, ak_user_by, ak_is_group_member)")


# authentik.core.models.User: User.objects, read-only, over the users table only. Each filter()/exclude() adds a step
# to a lazy query; exists(), count(), first(), get() and iteration send it to Keystage as one host call
# (user_query), which builds the SQL with bound parameters. Rebuilt with the modules before each evaluation.


class FieldError(Exception):
    """django.core.exceptions.FieldError: a lookup User.objects does not answer"""


USER_QUERY_FIELDS = ("pk", "id", "username", "email", "name", "uuid", "is_active", "path", "type")
USER_QUERY_LOOKUPS = ("exact", "iexact", "in", "startswith", "istartswith", "contains", "icontains")
USER_QUERY_TEXT_LOOKUPS = ("iexact", "startswith", "istartswith", "contains", "icontains")
USER_QUERY_CAP = 100  # the most users iteration or get() hands out; more is an error (never a shortened list)


def _query_value(value, key):
    if isinstance(value, User):
        return value.pk
    if value is None or isinstance(value, (str, int, bool)):
        return value
    if isinstance(value, (float, _Decimal)) and value == int(value):
        return int(value)
    if isinstance(value, _UUID):
        return str(value)
    raise ValueError("User.objects: %s=%r: a string, a number, a boolean or None is expected" % (key, value))


def _user_lookups(lookups):
    checked = {}
    for key, value in lookups.items():
        field, _, op = key.partition("__")
        op = op or "exact"
        if field not in USER_QUERY_FIELDS:
            raise FieldError("Cannot resolve keyword '%s' into field. Keystage's User.objects knows: %s"
                             % (field, ", ".join(USER_QUERY_FIELDS)))
        if op not in USER_QUERY_LOOKUPS or (op in USER_QUERY_TEXT_LOOKUPS and field in ("pk", "id", "is_active")):
            raise FieldError("Unsupported lookup '%s' for field '%s' in Keystage's User.objects (lookups: %s; "
                             "%s only for text fields)" % (op, field, ", ".join(USER_QUERY_LOOKUPS),
                                                            ", ".join(USER_QUERY_TEXT_LOOKUPS)))
        if op == "in":
            if isinstance(value, (str, bytes, dict)) or not hasattr(value, "__iter__"):
                raise ValueError("User.objects: %s takes a list" % key)
            checked[key] = [_query_value(v, key) for v in value]
        else:
            checked[key] = _query_value(value, key)
    return checked


class _UserQuerySet:
    """User.objects.filter(...): lazy; each filter()/exclude() a new one, evaluated by Keystage when asked"""

    __slots__ = ("_model", "_steps")

    def __init__(self, model, steps=()):
        object.__setattr__(self, "_model", model)
        object.__setattr__(self, "_steps", tuple(steps))

    def __setattr__(self, name, value):
        raise AttributeError("a User query is read-only")

    def _step(self, negate, lookups):
        return _UserQuerySet(self._model, self._steps + ((negate, _user_lookups(lookups)),))

    def _ask(self, mode, limit=None):
        if "user_query" not in _current().host_names:
            raise NotImplementedError("User.objects is not available in this context (expression policies have it)")
        query = {"steps": [{"negate": n, "lookups": l} for n, l in self._steps], "mode": mode}
        if limit is not None:
            query["limit"] = limit
        return _host_typed("user_query", {"list": list, "exists": bool, "count": int}[mode], query)

    def _users(self, limit):
        return [User(u) for u in self._ask("list", limit) if isinstance(u, dict)]

    def all(self):
        return _UserQuerySet(self._model, self._steps)

    def filter(self, *args, **lookups):
        if args:
            raise FieldError("Keystage's User.objects takes keyword lookups only (no Q objects)")
        return self._step(False, lookups)

    def exclude(self, *args, **lookups):
        if args:
            raise FieldError("Keystage's User.objects takes keyword lookups only (no Q objects)")
        return self._step(True, lookups)

    def exists(self):
        return self._ask("exists")

    def count(self):
        return int(self._ask("count"))

    def first(self):
        found = self._users(1)
        return found[0] if found else None

    def get(self, *args, **lookups):
        query = self.filter(*args, **lookups) if (args or lookups) else self
        found = query._users(2)
        if not found:
            raise self._model.DoesNotExist("User matching query does not exist.")
        if len(found) > 1:
            raise self._model.MultipleObjectsReturned("get() returned more than one User -- it returned more than 1!")
        return found[0]

    def _list(self):
        found = self._users(USER_QUERY_CAP + 1)
        if len(found) > USER_QUERY_CAP:
            raise ValueError("User.objects: more than %d users match; Keystage hands out at most %d (narrow the "
                             "query, or use exists() or count())" % (USER_QUERY_CAP, USER_QUERY_CAP))
        return found

    def __iter__(self):
        return iter(self._list())

    def __len__(self):
        return len(self._list())

    def __bool__(self):
        return self.exists()

    def __repr__(self):
        return "<QuerySet [User query: %s]>" % ", ".join(
            "%s(%s)" % ("exclude" if n else "filter", ", ".join("%s=%r" % kv for kv in l.items())) for n, l in self._steps
        )


class _UserManager:
    """User.objects: the read-only part of Django's manager"""

    __slots__ = ("_model",)

    def __init__(self, model):
        object.__setattr__(self, "_model", model)

    def __setattr__(self, name, value):
        raise AttributeError("User.objects is read-only")

    def get_queryset(self):
        return _UserQuerySet(self._model)

    def all(self):
        return self.get_queryset()

    def filter(self, *args, **lookups):
        return self.get_queryset().filter(*args, **lookups)

    def exclude(self, *args, **lookups):
        return self.get_queryset().exclude(*args, **lookups)

    def get(self, *args, **lookups):
        return self.get_queryset().get(*args, **lookups)

    def exists(self):
        return self.get_queryset().exists()

    def count(self):
        return self.get_queryset().count()

    def first(self):
        return self.get_queryset().first()

    def __getattr__(self, name):
        if name.startswith("_"):
            raise AttributeError(name)
        raise NotImplementedError("User.objects.%s is not available in Keystage: User.objects is read-only and has "
                                  "filter, exclude, all, get, first, exists and count" % name)

    def __repr__(self):
        return "<django.contrib.auth.models.UserManager>"


class _ModelClass(type):
    """the type of authentik.core.models.User: read-only, not instantiable; request.user and the users queries
    return are its instances for isinstance()"""

    def __setattr__(cls, name, value):
        raise AttributeError("authentik.core.models.%s is read-only in Keystage" % cls.__name__)

    def __delattr__(cls, name):
        raise AttributeError("authentik.core.models.%s is read-only in Keystage" % cls.__name__)

    def __call__(cls, *args, **kwargs):
        raise TypeError("authentik.core.models.User cannot be created in Keystage's expressions (User.objects is read-only)")

    def __instancecheck__(cls, obj):
        return isinstance(obj, User)

    def __subclasscheck__(cls, sub):
        return issubclass(sub, User)


def _user_model():
    """authentik.core.models.User, fresh for one evaluation"""

    class DoesNotExist(ObjectDoesNotExist):
        pass

    class UserMultipleObjectsReturned(MultipleObjectsReturned):
        pass

    UserMultipleObjectsReturned.__name__ = UserMultipleObjectsReturned.__qualname__ = "MultipleObjectsReturned"
    DoesNotExist.__qualname__ = "User.DoesNotExist"
    UserMultipleObjectsReturned.__qualname__ = "User.MultipleObjectsReturned"
    namespace = {"__module__": "authentik.core.models", "__slots__": (), "DoesNotExist": DoesNotExist,
                 "MultipleObjectsReturned": UserMultipleObjectsReturned, "__doc__": "authentik's User: User.objects only"}
    model = _ModelClass("User", (), namespace)
    type.__setattr__(model, "objects", _UserManager(model))
    return model


def _authentik_module(name, doc, names=None, orm=False):
    module = _types.ModuleType(name, doc)
    module.__package__ = name if names is None else name.rpartition(".")[0]
    if names is None:
        module.__path__ = []  # a package: its submodules are these shims, or the guard's refusal
    else:
        for key, value in names.items():
            setattr(module, key, value)

    def missing(attr):
        # a model class (User, Group, Application…) is the ORM's; anything else is simply not there
        if orm and attr[:1].isupper() and not attr.isupper():
            raise ImportError(_NO_ORM % attr, name=name)
        raise AttributeError("module '%s' has no attribute '%s'" % (name, attr))

    module.__getattr__ = missing
    return module


def _install_authentik():
    """authentik's modules, fresh, in sys.modules"""
    root = _authentik_module("authentik", "authentik (Keystage's shims)")
    lib = _authentik_module("authentik.lib", "authentik.lib (Keystage's shims)")
    core = _authentik_module("authentik.core", "authentik.core (Keystage's shims)")
    config = _authentik_module("authentik.lib.config", "authentik's configuration, as Keystage's", {"CONFIG": _Config()})
    models = _authentik_module("authentik.core.models", "authentik.core.models' constants and a read-only User.objects",
                               dict(USER_ATTRIBUTES, User=_user_model()), orm=True)
    root.lib, root.core, lib.config, core.models = lib, core, config, models
    for module in (root, lib, config, core, models):
        _sys.modules[module.__name__] = module


class _Logger:
    """ak_logger, authentik's structlog logger: each call is collected as {event, level, attributes}"""

    def __init__(self, bound=None):
        self._bound = dict(bound or {})

    def bind(self, **kwargs):
        return _Logger({**self._bound, **kwargs})

    def new(self, **kwargs):
        return _Logger(kwargs)

    def unbind(self, *keys):
        return _Logger({k: v for k, v in self._bound.items() if k not in keys})

    try_unbind = unbind

    def _log(self, level, event=None, *args, **kwargs):
        run = _current()
        if len(run.logs) >= MAX_LOGS:
            run.logs_dropped += 1
            return
        text = str(event) if event is not None else ""
        if args:
            try:
                text = text % args
            except (TypeError, ValueError):
                text = " ".join([text] + [str(a) for a in args])
        attributes = {**self._bound, **kwargs}
        if kwargs.pop("exc_info", False) or level == "exception":
            attributes.pop("exc_info", None)
            attributes["exception"] = _traceback.format_exc()
        try:
            encoded = _to_json(attributes)
            if len(_json.dumps(encoded)) > MAX_LOG_CHARS:
                encoded = {"attributes": _truncate(_json.dumps(encoded), MAX_LOG_CHARS)}
        except Exception:
            encoded = {"attributes": _short_repr(attributes)}
        run.logs.append({"event": _truncate(text, MAX_LOG_CHARS), "level": "error" if level == "exception" else level, "attributes": encoded})

    def debug(self, event=None, *args, **kw):
        self._log("debug", event, *args, **kw)

    def info(self, event=None, *args, **kw):
        self._log("info", event, *args, **kw)

    msg = info

    def warning(self, event=None, *args, **kw):
        self._log("warning", event, *args, **kw)

    warn = warning

    def error(self, event=None, *args, **kw):
        self._log("error", event, *args, **kw)

    def exception(self, event=None, *args, **kw):
        self._log("exception", event, *args, **kw)

    def critical(self, event=None, *args, **kw):
        self._log("critical", event, *args, **kw)

    fatal = critical

    def log(self, level, event=None, *args, **kw):
        names = {10: "debug", 20: "info", 30: "warning", 40: "error", 50: "critical"}
        self._log(names.get(level, str(level).lower()), event, *args, **kw)


ak_logger = _Logger()


def _expression_globals():
    """BaseEvaluator._globals, fresh for each evaluation"""
    return {
        "__builtins__": _builtins,
        "ak_call_policy": ak_call_policy,
        "ak_create_event": ak_create_event,
        "ak_create_jwt": _unavailable("ak_create_jwt", "Keystage issues no tokens from expressions"),
        "ak_create_jwt_raw": _unavailable("ak_create_jwt_raw", "Keystage issues no tokens from expressions"),
        "ak_is_group_member": ak_is_group_member,
        "ak_logger": ak_logger,
        "ak_send_email": _unavailable("ak_send_email", "expressions send no e-mail"),
        "ak_user_by": ak_user_by,
        "ak_user_has_authenticator": ak_user_has_authenticator,
        "ip_address": ip_address,
        "ip_network": ip_network,
        "list_flatten": list_flatten,
        "regex_match": regex_match,
        "regex_replace": regex_replace,
        "requests": _Unavailable("requests", "expressions have no network access"),
        "resolve_dns": _unavailable("resolve_dns", "expressions have no network access"),
        "reverse_dns": _unavailable("reverse_dns", "expressions have no network access"),
        "slugify": slugify,
    }


# ---------------------------------------------------------------------------------------------------------------------
# compile and run


def _wrap(expression, names):
    """BaseEvaluator.wrap_expression"""
    signature = ",".join(names)
    full = "def handler(%s):\n" % signature
    full += _textwrap.indent(expression, "    ")
    full += "\nresult = handler(%s)" % signature
    return full


_code_cache = {}


def _compile(expression, names, filename):
    key = (expression, names, filename)
    code = _code_cache.get(key)
    if code is None:
        code = compile(_wrap(expression, names), filename, "exec")
        if len(_code_cache) >= CODE_CACHE_SIZE:
            _code_cache.pop(next(iter(_code_cache)))
        _code_cache[key] = code
    return code


def _admin_line(lineno, source):
    """line N of the wrapped code is line N - 1 of the admin's text (clamped to it)"""
    lines = max(1, len(source.splitlines()))
    if not isinstance(lineno, int):
        return 1
    return min(max(1, lineno - 1), lines)


def _syntax_answer(exc, source):
    message = str(getattr(exc, "msg", None) or exc)
    if not source.strip() or "after function definition on line 1" in message:
        message = "the expression has no statement"
    else:
        # a message that names a line ("detected at line 7") names the wrapped code's
        message = _re.sub(r"\bline (\d+)", lambda m: "line %d" % _admin_line(int(m.group(1)), source), message)
    column = getattr(exc, "offset", None)
    answer = {"ok": False, "line": _admin_line(getattr(exc, "lineno", None), source), "message": message}
    if isinstance(column, int) and getattr(exc, "lineno", 0) and exc.lineno > 1:
        answer["column"] = max(1, column - 4)
    return answer


def check_syntax(source):
    """BaseEvaluator.validate: compile the wrapped expression (JSON answer)"""
    try:
        compile(_wrap(source, POLICY_NAMES), "<expression>", "exec")
        return _json.dumps({"ok": True})
    except (SyntaxError, ValueError) as exc:
        return _json.dumps(_syntax_answer(exc, source))


def _error_answer(exc, source, filename):
    """the traceback as authentik keeps it (without the evaluator's own frame), with the admin's line numbers"""
    tb = exc.__traceback__.tb_next if exc.__traceback__ is not None else None
    lines = source.splitlines()
    frames = []
    for frame in _traceback.extract_tb(tb):
        if frame.filename == filename and frame.name == "<module>":
            continue  # the wrapper's call of handler()
        if frame.filename == filename:
            lineno = _admin_line(frame.lineno, source)
            text = lines[lineno - 1].strip() if lineno - 1 < len(lines) else ""
            frames.append(_traceback.FrameSummary(filename, lineno, frame.name, lookup_line=False, line=text))
        else:
            frames.append(frame)
    if isinstance(exc, SyntaxError) and getattr(exc, "filename", None) == filename:
        exc.lineno = _admin_line(exc.lineno, source)
        exc.text = lines[exc.lineno - 1] if exc.lineno - 1 < len(lines) else exc.text
        exc.offset = None
        exc.end_lineno = None
        exc.end_offset = None
    last = "".join(_traceback.format_exception_only(type(exc), exc)).strip().splitlines()
    error = last[-1] if last else type(exc).__name__
    if isinstance(exc, SyntaxError):
        error = "%s: %s (line %s)" % (type(exc).__name__, exc.msg, exc.lineno)
    text = "Traceback (most recent call last):\n" + "".join(_traceback.StackSummary.from_list(frames).format())
    text += "\n".join(last)
    return {
        "ok": False,
        "kind": "memory" if isinstance(exc, MemoryError) else "exception",
        "error": _truncate(error, MAX_MESSAGE_CHARS),
        "exception": {"type": type(exc).__name__, "message": _truncate(str(exc), MAX_MESSAGE_CHARS)},
        "traceback": _truncate(text, 20000),
    }


class _NameID:
    """a SAML source's NameID element: its text and attributes (Format)"""

    def __init__(self, text, attrib):
        self.text = text
        self.attrib = dict(attrib)
        self.tag = "{urn:oasis:names:tc:SAML:2.0:assertion}NameID"

    def get(self, key, default=None):
        return self.attrib.get(key, default)


def _given(name, value):
    """a global as authentik hands it over: request a PolicyRequest, user a User, provider a model (its
    application too), a webhook mapping's device and stage models, other names as given"""
    if name == "request":
        return PolicyRequest(value)
    if name == "user" and isinstance(value, dict):
        return User(value)
    if name in ("device", "stage", "connection") and isinstance(value, dict):
        return Model(value)
    if name == "group" and isinstance(value, dict):
        return Group(value)
    if name == "source" and isinstance(value, dict):
        return Source(value)
    if name == "ldap" and isinstance(value, dict):
        return LDAPAttributes(value)
    if name == "root" and isinstance(value, str) and value.startswith("<"):
        # a SAML source's response, as an ElementTree element (authentik hands over lxml's)
        import xml.etree.ElementTree as _ET
        return _ET.fromstring(value)
    if name == "name_id" and isinstance(value, dict) and "text" in value:
        return _NameID(value.get("text"), value.get("attrib") or {})
    if name == "provider" and isinstance(value, dict):
        data = dict(value)
        if isinstance(data.get("application"), dict):
            data["application"] = Model(data["application"])
        return Model(data)
    return value


def _names_of(globals_):
    for name in globals_:
        if not (isinstance(name, str) and name.isidentifier() and not _keyword.iskeyword(name)):
            raise ValueError("global %r is no Python identifier" % (name,))


def _handler_context(given):
    """the handler's arguments: the globals, and what PolicyEvaluator.__init__ and set_policy_request add"""
    context = dict(given)
    request = context.get("request")
    context.setdefault("ak_message", ak_message)
    context.setdefault("ak_user_has_authenticator", ak_user_has_authenticator)
    if isinstance(request, PolicyRequest):
        context.setdefault("ak_is_sso_flow", request.context.get("is_sso", False))
        if request.http_request is not None:
            context.setdefault("ak_client_ip", ip_address(request.http_request.client_ip or "255.255.255.255"))
            context.setdefault("http_request", request.http_request)
        context.setdefault("context", request.context)
    return context


def _execute(source, context, filename):
    """BaseEvaluator.evaluate: the wrapped expression, run with authentik's globals; its result"""
    code = _compile(source, tuple(context), filename)
    scope = dict(context)
    exec(code, _expression_globals(), scope)
    return scope["result"]


def evaluate(job_json):
    """one evaluation: {source, globals, host, filename} -> JSON answer (never raises, save for MemoryError while
    answering, which the worker reports itself)"""
    global _run
    job = _json.loads(job_json)
    source = job["source"]
    filename = job.get("filename") or "PolicyEvaluator"
    _run = run = _Run(job.get("host") or [], filename)
    _reassert()
    _install_authentik()
    try:
        try:
            given = job.get("globals") or {}
            _names_of(given)
            run.given = {name: _given(name, value) for name, value in given.items()}
            result = _execute(source, _handler_context(run.given), filename)
            truthy = bool(result)
            value = _to_json(result)
        except BaseException as exc:  # SystemExit and KeyboardInterrupt from an expression are failures too
            answer = _error_answer(exc, source, filename)
        else:
            answer = {"ok": True, "value": value, "truthy": truthy, "messages": run.messages}
            changes = _context_changes(run.given.get("request"))
            if changes is not None:
                answer["context_changes"] = changes
        if run.messages_dropped:
            ak_logger.warning("ak_message: %d further messages dropped" % run.messages_dropped)
        answer["logs"] = run.logs
        if run.logs_dropped:
            answer["logs"] = run.logs + [{"event": "%d further log lines dropped" % run.logs_dropped, "level": "warning", "attributes": {}}]
        try:
            return _json.dumps(answer, allow_nan=False)
        except (TypeError, ValueError) as exc:
            return _json.dumps({"ok": False, "kind": "exception", "error": "the result cannot be sent: %s" % exc, "logs": []})
    finally:
        _run = None


# ---------------------------------------------------------------------------------------------------------------------
# the guard: modules an expression may not import, whoever asks


_BLOCKED = ("js", "pyodide", "pyodide_js", "_pyodide", "_pyodide_core", "micropip", "ctypes", "_ctypes", "subprocess",
            "_posixsubprocess", "socket", "_socket", "select", "selectors", "ssl", "_ssl", "multiprocessing", "_multiprocessing",
            "urllib.request", "http.client", "http.server", "socketserver", "ftplib", "smtplib", "poplib",
            "imaplib", "telnetlib", "webbrowser", "pty", "_pyrepl")


_BLOCKED_SET = frozenset(_BLOCKED)


def _blocked(name):
    if name in _BLOCKED_SET:
        return True
    dot = name.find(".")
    while dot != -1:
        if name[:dot] in _BLOCKED_SET:
            return True
        dot = name.find(".", dot + 1)
    return False


class _Guard:
    """first on sys.meta_path: refuses the JavaScript bridge modules and those that reach processes or the network"""

    @classmethod
    def find_spec(cls, name, path=None, target=None):
        if _blocked(name):
            raise ImportError("import of '%s' is not allowed in expressions" % name, name=name)
        if (name == "authentik" or name.startswith("authentik.")) and name not in AUTHENTIK_MODULES:
            raise ModuleNotFoundError(_NO_MODULE % name, name=name)
        return None

    @classmethod
    def invalidate_caches(cls):
        pass


class _Discard:
    """sys.stdout and sys.stderr: whatever is written is dropped"""

    encoding = "utf-8"
    errors = "strict"

    def write(self, text):
        return len(text)

    def writelines(self, lines):
        pass

    def flush(self):
        pass

    def isatty(self):
        return False


def _refuse_process(name):
    def refused(*args, **kwargs):
        raise PermissionError("os.%s is not available in expressions" % name)

    refused.__name__ = name
    return refused


_seen_modules = frozenset()  # the modules _reassert found allowed (only new ones are looked at)


def _reassert():
    """before each evaluation: what an earlier expression may have undone (the guard first on sys.meta_path, no
    bridge module imported, output dropped). The worker's JavaScript holds whatever this does not. (Not before
    _install: the warm-up before pyodide's snapshot needs pyodide's modules where they are.)"""
    if _host_call is None:
        return
    if not _sys.meta_path or _sys.meta_path[0] is not _Guard:
        _sys.meta_path[:] = [_Guard] + [f for f in _sys.meta_path if f is not _Guard]
    global _seen_modules
    for name in [m for m in _sys.modules.keys() - _seen_modules if _blocked(m)]:
        del _sys.modules[name]
    _seen_modules = frozenset(_sys.modules)
    if not isinstance(_sys.stdout, _Discard) or not isinstance(_sys.stderr, _Discard):
        _sys.stdout = _sys.stderr = _Discard()


def _install(bridge):
    """run once by the worker: keep the bridge, refuse processes, guard imports, drop the JavaScript modules"""
    global _host_call
    _host_call = bridge
    import os
    import posix
    import random

    # a worker started from a snapshot has the snapshot's random state: draw a fresh one (this also makes the
    # JavaScript side fetch its random source now, before the lock-down)
    os.urandom(16)
    random.seed()
    # print() and tracebacks written to stderr go nowhere, without crossing into JavaScript
    _sys.stdout = _sys.stderr = _Discard()

    for module in (os, posix):
        for name in list(vars(module)):
            if name in ("system", "popen", "fork", "forkpty", "kill", "killpg", "abort", "_exit") or name.startswith(("exec", "spawn", "posix_spawn")):
                setattr(module, name, _refuse_process(name))
    _sys.meta_path.insert(0, _Guard)
    for name in list(_sys.modules):
        if _blocked(name):
            del _sys.modules[name]
    # pyodide's finder for the JavaScript modules: dropped, and emptied (it holds the js and pyodide_js proxies)
    for finder in [f for f in _sys.meta_path if type(f).__name__ == "JsFinder"]:
        try:
            finder.jsproxies.clear()
        except Exception:
            pass
    _sys.meta_path[:] = [f for f in _sys.meta_path if type(f).__name__ != "JsFinder"]
`;
