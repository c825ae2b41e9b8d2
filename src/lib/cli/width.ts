/**
 * Fitting a line into the terminal's columns. Widths are display columns (wide CJK characters and
 * most emoji take two), measured with string-width; a cut never splits a grapheme. Loaded lazily:
 * only output that can be cut to a width needs it.
 */
import stringWidth from 'string-width'

export {stringWidth}

const segmenter = new Intl.Segmenter(undefined, {granularity: 'grapheme'})
const PRINTABLE_ASCII = /^[\u0020-\u007E]*$/

/** `text` cut to at most `width` columns, ending with `…` when something was cut. */
export function cutToWidth(text: string, width: number): string {
  if (width <= 0) return ''
  if (PRINTABLE_ASCII.test(text)) return text.length <= width ? text : text.slice(0, width - 1) + '…'
  // Every grapheme but a zero-width one takes a column at least: no need to measure a huge text whole.
  const head = text.length > width * 8 ? text.slice(0, width * 8) : text
  if (head === text && stringWidth(text) <= width) return text
  const segments = Array.from(segmenter.segment(head), (s) => s.segment)
  if (head !== text) segments.pop() // the last one may be part of a grapheme
  let out = ''
  let used = 0
  for (const segment of segments) {
    const w = stringWidth(segment)
    if (used + w > width - 1) return out + '…'
    out += segment
    used += w
  }
  return head === text ? out : out + '…'
}
