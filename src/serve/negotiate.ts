/*
 * Which exposition format a scrape asked for, from its Accept header. Prometheus lists the
 * formats it takes with weights, e.g. `application/openmetrics-text;version=1.0.0,
 * text/plain;version=0.0.4;q=0.5,*\/*;q=0.1`; curl and browsers send `*\/*` or nothing.
 * OpenMetrics is served when some range names it with a weight above 0 and no range that
 * the text format matches (`text/plain`, `text/*`, `*\/*`) weighs more; anything else gets
 * the Prometheus text format 0.0.4, which every scraper reads. Version parameters are not
 * compared: the renderer has one version of each format.
 */

const Q_RE = /^q\s*=\s*([0-9](?:\.[0-9]{0,3})?)$/i;

export function wantsOpenMetrics(accept: string | undefined): boolean {
  if (accept === undefined || accept === '') return false;
  let openMetrics = 0;
  let text = 0;
  for (const range of accept.split(',')) {
    const [type = '', ...params] = range.split(';').map((s) => s.trim());
    let q = 1;
    for (const p of params) {
      const m = Q_RE.exec(p);
      if (m) q = Math.min(1, Number(m[1]));
    }
    const t = type.toLowerCase();
    if (t === 'application/openmetrics-text') openMetrics = Math.max(openMetrics, q);
    else if (t === 'text/plain' || t === 'text/*' || t === '*/*') text = Math.max(text, q);
  }
  return openMetrics > 0 && openMetrics >= text;
}
