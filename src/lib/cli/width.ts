/**
 * Fitting a line into the terminal's columns. Widths are display columns (wide CJK characters and
 * most emoji take two), measured with string-width; a cut never splits a grapheme. Loaded lazily:
 * only output that can be cut to a width needs it.
 */
import stringWidth from 'string-width'

export {stringWidth}

const segmenter = new Intl.Segmenter(undefined, {granularity: 'grapheme'})

/** `text` cut to at most `width` columns, ending with `…` when something was cut. */
export function cutToWidth(text: string, width: number): string {
  if (width <= 0) return ''
  if (stringWidth(text) <= width) return text
  let out = ''
  let used = 0
  for (const {segment} of segmenter.segment(text)) {
    const w = stringWidth(segment)
    if (used + w > width - 1) break
    out += segment
    used += w
  }
  return out + '…'
}
