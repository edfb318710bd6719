/**
 * authentik's `Group.num_pk`: "a numerical, int32 ID for the group", the first five decimal digits of the UUID read
 * as a 128-bit integer (its LDAP outpost derives gidNumbers from it).
 */
export function numPkOf(uuid: string): number {
  return Number(
    BigInt(`0x${uuid.replace(/-/g, '')}`)
      .toString()
      .slice(0, 5),
  );
}
