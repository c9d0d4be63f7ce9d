/**
 * Pagination strategies of the OpenStack APIs, gophercloud-style:
 * - linked pages: Nova `servers_links` / Neutron `networks_links` ([{href, rel:"next"}]) and
 *   Glance `next` (a path such as `/v2/images?marker=…`);
 * - marker pages: `limit` + `marker=<last id>` until a short page (Heat events, keypairs).
 *
 * A next link is followed by its query string on our own request path and endpoint, not by its
 * host: services behind proxies often advertise internal hosts in their links, while the link's
 * query (marker, limit and the original filters) is all the next page needs.
 */
import { CloudApiError } from '../errors';

export interface Link {
  href: string;
  rel: string;
}

/** href of the `rel="next"` entry of a links array, if any. */
export function nextHref(links: unknown): string | undefined {
  if (!Array.isArray(links)) return undefined;
  const next = links.find((l): l is Link => !!l && typeof l === 'object' && (l as Link).rel === 'next' && typeof (l as Link).href === 'string');
  return next?.href;
}

/** The query of a next link (absolute URL or path) as parameters for the same collection path. */
export function nextQuery(href: string): URLSearchParams {
  return new URL(href, 'http://next.invalid').searchParams;
}

export interface Page<T> {
  items: T[];
  /** Link to the next page (any form nextQuery accepts), absent on the last page. */
  next?: string;
}

/** Upper bound on pages, so a server that keeps returning the same link cannot loop us forever. */
export const MAX_PAGES = 10_000;

/**
 * Fetches the first page (`query` undefined), then follows next links until there are none, a
 * page is empty, or a link repeats. Exceeding `maxPages` is an error rather than a silent cut.
 */
export async function collectLinkedPages<T>(
  fetchPage: (query: URLSearchParams | undefined) => Promise<Page<T>>,
  maxPages = MAX_PAGES,
): Promise<T[]> {
  const all: T[] = [];
  const seen = new Set<string>();
  let query: URLSearchParams | undefined;
  for (let n = 0; n < maxPages; n++) {
    const page = await fetchPage(query);
    all.push(...page.items);
    if (!page.next || page.items.length === 0) return all;
    const q = nextQuery(page.next);
    const key = q.toString();
    if (seen.has(key)) return all;
    seen.add(key);
    query = q;
  }
  throw new CloudApiError({ kind: 'Unexpected', method: 'GET', url: 'pagination', message: `more than ${maxPages} pages; refusing to continue` });
}

/**
 * Marker pagination: asks for `pageSize` items after `marker` (the id of the last item seen)
 * until a page comes back shorter than `pageSize`.
 */
export async function collectMarkerPages<T>(
  fetchPage: (marker: string | undefined, limit: number) => Promise<T[]>,
  idOf: (item: T) => string,
  pageSize: number,
  maxPages = MAX_PAGES,
): Promise<T[]> {
  const all: T[] = [];
  let marker: string | undefined;
  for (let n = 0; n < maxPages; n++) {
    const items = await fetchPage(marker, pageSize);
    all.push(...items);
    if (items.length < pageSize || items.length === 0) return all;
    const last = idOf(items[items.length - 1]);
    if (last === marker) return all;
    marker = last;
  }
  throw new CloudApiError({ kind: 'Unexpected', method: 'GET', url: 'pagination', message: `more than ${maxPages} pages; refusing to continue` });
}
