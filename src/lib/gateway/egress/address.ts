/**
 * Which IP addresses a team gateway refuses to connect to on behalf of tenant-set URLs
 * (docs/SECURITY.md, "Egress"): loopback, private, shared (CGNAT), link-local (cloud metadata
 * included), unspecified, multicast and reserved ranges, in IPv4 and IPv6, with the IPv4
 * address inside an IPv6 one (mapped `::ffff:a.b.c.d`, compatible `::a.b.c.d`, NAT64
 * `64:ff9b::/96`, 6to4 `2002::/16`) judged as that IPv4 address.
 *
 * Pure functions over bytes; no DNS here.
 */
import {isIP} from 'node:net'

/** An address as bytes: 4 for IPv4, 16 for IPv6. */
export type IpBytes = Uint8Array

export interface Cidr {
  bytes: IpBytes
  prefix: number
}

/** Parse an IPv4 or IPv6 literal (no brackets; an IPv6 zone `%eth0` is ignored). */
export function parseIp(text: string): IpBytes | undefined {
  const ip = text.replace(/%.*$/, '')
  const family = isIP(ip)
  if (family === 4) return Uint8Array.from(ip.split('.').map(Number))
  if (family !== 6) return undefined
  let head = ip
  let tail: number[] = []
  // A dotted IPv4 tail (`::ffff:127.0.0.1`) is two groups.
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(head)
  if (dotted) {
    const [a, b, c, d] = dotted[1]!.split('.').map(Number) as [number, number, number, number]
    tail = [(a << 8) | b, (c << 8) | d]
    head = head.slice(0, -dotted[1]!.length)
    if (head.endsWith(':') && !head.endsWith('::')) head = head.slice(0, -1)
  }
  const groups = (s: string) => (s === '' ? [] : s.split(':').map((g) => Number.parseInt(g, 16)))
  let words: number[]
  const gap = head.indexOf('::')
  if (gap >= 0) {
    const left = groups(head.slice(0, gap))
    const right = [...groups(head.slice(gap + 2)), ...tail]
    words = [...left, ...new Array<number>(8 - left.length - right.length).fill(0), ...right]
  } else {
    words = [...groups(head), ...tail]
  }
  if (words.length !== 8) return undefined
  const bytes = new Uint8Array(16)
  words.forEach((w, i) => {
    bytes[i * 2] = w >> 8
    bytes[i * 2 + 1] = w & 0xff
  })
  return bytes
}

function startsWith(bytes: IpBytes, prefix: readonly number[]): boolean {
  return prefix.every((b, i) => bytes[i] === b)
}

/**
 * The IPv4 address an IPv6 address carries (mapped, compatible, NAT64, 6to4), else the address
 * itself. An IPv4 address is returned as it is.
 */
export function embeddedIpv4(bytes: IpBytes): IpBytes {
  if (bytes.length === 4) return bytes
  const zeros10 = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0]
  if (startsWith(bytes, [...zeros10, 0xff, 0xff])) return bytes.slice(12) // ::ffff:a.b.c.d
  // ::a.b.c.d (deprecated "compatible"), but not :: and ::1 themselves.
  if (startsWith(bytes, [...zeros10, 0, 0]) && (bytes[12]! | bytes[13]!) !== 0) return bytes.slice(12)
  if (startsWith(bytes, [0x00, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0])) return bytes.slice(12) // 64:ff9b::/96
  if (startsWith(bytes, [0x20, 0x02])) return bytes.slice(2, 6) // 2002:aabb:ccdd::/16
  return bytes
}

/** True when the first `prefix` bits of `bytes` equal those of `net` (same family). */
export function inCidr(bytes: IpBytes, net: Cidr): boolean {
  if (bytes.length !== net.bytes.length) return false
  let bits = net.prefix
  for (let i = 0; bits > 0; i++, bits -= 8) {
    const mask = bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff
    if ((bytes[i]! & mask) !== (net.bytes[i]! & mask)) return false
  }
  return true
}

/** Parse `a.b.c.d/n` or `v6/n`; undefined when malformed. */
export function parseCidr(text: string): Cidr | undefined {
  const slash = text.lastIndexOf('/')
  if (slash < 0) return undefined
  const bytes = parseIp(text.slice(0, slash).replace(/^\[|\]$/g, ''))
  const bitsText = text.slice(slash + 1)
  if (!bytes || !/^\d{1,3}$/.test(bitsText)) return undefined
  const prefix = Number(bitsText)
  if (prefix > bytes.length * 8) return undefined
  return {bytes, prefix}
}

const RANGES: ReadonlyArray<readonly [string, string]> = [
  ['0.0.0.0/8', 'unspecified'],
  ['127.0.0.0/8', 'loopback'],
  ['10.0.0.0/8', 'private'],
  ['172.16.0.0/12', 'private'],
  ['192.168.0.0/16', 'private'],
  ['100.64.0.0/10', 'shared (carrier-grade NAT)'],
  ['169.254.0.0/16', 'link-local'],
  ['192.0.0.0/24', 'reserved'],
  ['198.18.0.0/15', 'reserved'],
  ['224.0.0.0/4', 'multicast'],
  ['240.0.0.0/4', 'reserved'],
  ['::/128', 'unspecified'],
  ['::1/128', 'loopback'],
  ['fc00::/7', 'private'],
  ['fe80::/10', 'link-local'],
  ['fec0::/10', 'private'],
  ['ff00::/8', 'multicast'],
]
const REFUSED: ReadonlyArray<{net: Cidr; kind: string}> = RANGES.map(([cidr, kind]) => ({net: parseCidr(cidr)!, kind}))

/**
 * Why a team gateway refuses this address (`loopback`, `private`, `link-local`…), or undefined
 * when it is a public address. Anything that does not parse as an address is refused too.
 */
export function refusedKind(address: string | IpBytes): string | undefined {
  const parsed = typeof address === 'string' ? parseIp(address) : address
  if (!parsed) return 'unparseable'
  const bytes = embeddedIpv4(parsed)
  for (const {net, kind} of REFUSED) if (inCidr(bytes, net)) return kind
  return undefined
}
