/**
 * The GeoIP policy (authentik's GeoIPPolicy): where the client's address is, from the GeoIP and ASN databases
 * (src/geoip/; the request context's `geoip` and `asn`, as authentik's context processors put them).
 *
 * - `asns` / `countries`: passes when the address belongs to one of the autonomous systems or lies in one of the
 *   countries (either is enough). An address a database does not know, or a database that is off, is an error — the
 *   binding's `failure_result` applies and a `policy_exception` event says why — as authentik's GeoIPNotFoundException.
 * - `check_history_distance` / `check_impossible_travel`: compares with where the user's last
 *   `history_login_count` logins came from (their events' `geo`): fails when one is at least
 *   `history_max_distance_km + distance_tolerance_km` away, or further than 1,000 km per hour since it (at least
 *   one hour) plus `impossible_tolerance_km`. No location now, or none recorded then: nothing to compare, passes.
 * Both groups configured: an allowed network or country and no distance failure.
 */
import geodesic from 'geographiclib-geodesic';
import { lastLogins } from '../../events/logins.js';
import type { PolicyCall, PolicyConfig, PolicyDef, PolicyResult } from '../types.js';
import type { ApiRouter } from '../../rest/routes.js';
import { COUNTRIES, COUNTRY_CODES, countryName } from './countries.js';
import { geoipSchema } from './schema.js';

type Config = PolicyConfig<typeof geoipSchema>;

/** authentik's MAX_DISTANCE_HOUR_KM: faster than an airliner is impossible */
const MAX_DISTANCE_HOUR_KM = 1000;

/** authentik's valid_coordinates: finite numbers within the globe's ranges, else undefined */
export function validCoordinates(geo: unknown): [number, number] | undefined {
  if (!geo || typeof geo !== 'object') return undefined;
  const { lat, long } = geo as { lat?: unknown; long?: unknown };
  if (typeof lat !== 'number' || typeof long !== 'number' || !Number.isFinite(lat) || !Number.isFinite(long)) return undefined;
  if (lat < -90 || lat > 90 || long < -180 || long > 180) return undefined;
  return [lat, long];
}

/** the geodesic distance on the WGS-84 ellipsoid (geopy's `distance.geodesic`), in km */
export function distanceKm(a: [number, number], b: [number, number]): number {
  return geodesic.Geodesic.WGS84.Inverse(a[0], a[1], b[0], b[1]).s12! / 1000;
}

/** authentik's GeoIPNotFoundException, raised through PolicyException: the binding fails */
class GeoIPNotFound extends Error {}

function passesAsn(call: PolicyCall<Config>): PolicyResult {
  const asn = (call.request.context.asn as { asn?: unknown } | null | undefined)?.asn;
  if (!asn) throw new GeoIPNotFound('GeoIP: client IP not found in ASN database.');
  if (!call.config.asns.includes(asn as number))
    return { passing: false, messages: ['Client IP is not part of an allowed autonomous system.'] };
  return { passing: true, messages: [] };
}

function passesCountry(call: PolicyCall<Config>): PolicyResult {
  const country = (call.request.context.geoip as { country?: unknown } | null | undefined)?.country;
  if (!country) throw new GeoIPNotFound('GeoIP: client IP address not found in City database.');
  if (!(call.config.countries as string[]).includes(country as string))
    return { passing: false, messages: ['Client IP is not in an allowed country.'] };
  return { passing: true, messages: [] };
}

async function passesDistance(call: PolicyCall<Config>): Promise<PolicyResult> {
  const { config, request, svc } = call;
  const user = request.user;
  const current = validCoordinates(request.context.geoip);
  if (!user || !current || config.history_login_count <= 0) return { passing: true, messages: [] };
  const previous = await lastLogins(svc.db, svc.dialect, user, config.history_login_count);
  const now = Date.now();
  for (const login of previous) {
    let geo: unknown;
    try {
      geo = (JSON.parse(login.context) as { geo?: unknown }).geo;
    } catch {
      continue;
    }
    const before = validCoordinates(geo);
    if (!before) continue;
    const dist = distanceKm(before, current);
    if (config.check_history_distance && dist >= config.history_max_distance_km + config.distance_tolerance_km)
      return { passing: false, messages: ['Distance from previous authentication is larger than threshold.'] };
    const hours = Math.max((now - new Date(login.created).getTime()) / 3_600_000, 1);
    if (config.check_impossible_travel && dist >= MAX_DISTANCE_HOUR_KM * hours + config.impossible_tolerance_km)
      return { passing: false, messages: ['Distance is further than possible.'] };
  }
  return { passing: true, messages: [] };
}

/** /policies/geoip_iso3166/ (authentik's ISO3166View): every country's code and name, to anyone, unpaginated */
function mountCountries(router: ApiRouter) {
  router.component('DetailedCountry', {
    type: 'object',
    properties: { code: { type: 'string', enum: [...COUNTRY_CODES] }, name: { type: 'string' } },
    required: ['code', 'name'],
  });
  router.route('/policies/geoip_iso3166', {
    get: {
      doc: {
        operationId: 'policies_geoip_iso3166_list',
        tag: 'policies',
        response: { type: 'array', items: { $ref: '#/components/schemas/DetailedCountry' } },
      },
      handler: async () => COUNTRIES,
    },
  });
}

export const geoipPolicy: PolicyDef = {
  ...geoipSchema,
  routes: mountCountries,
  present(o) {
    o.countries_obj = ((o.countries as string[] | undefined) ?? []).map((code) => ({ code, name: countryName(code) }));
  },
  async evaluate(call: PolicyCall<Config>): Promise<PolicyResult> {
    const { config } = call;
    const fixed: PolicyResult[] = [];
    const moving: PolicyResult[] = [];
    if (config.asns.length) fixed.push(passesAsn(call));
    if (config.countries.length) fixed.push(passesCountry(call));
    if (config.check_history_distance || config.check_impossible_travel) moving.push(await passesDistance(call));
    if (!fixed.length && !moving.length) return { passing: true, messages: [] };
    const passing = (fixed.length ? fixed.some((r) => r.passing) : true) && moving.every((r) => r.passing);
    return { passing, messages: [...fixed, ...moving].flatMap((r) => r.messages) };
  },
  contextOnly: (config: Config) => !config.check_history_distance && !config.check_impossible_travel,
};
