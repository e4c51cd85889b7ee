// Sorting and filtering the library on the home page: pure, so the rules are tested without a
// browser. "Watched" comes from the server with each title (`watched`: a finished film, or a
// series with every episode finished), for the profile that asks.
import type { LibraryItem } from '$lib/api/types';

export type SortOrder = 'title' | 'year' | 'added';
export type KindFilter = 'all' | 'movie' | 'tv';
export type WatchedFilter = 'all' | 'watched' | 'unwatched';

export interface BrowseOptions {
	sort: SortOrder;
	kind: KindFilter;
	watched: WatchedFilter;
}

/**
 * Title first, as Jellyfin's and Plex's library views open (both sort by name and leave
 * "recently added" to a row of their home page, as this one does).
 */
export const DEFAULT_BROWSE: BrowseOptions = { sort: 'title', kind: 'all', watched: 'all' };

/** Newest first; `Date.parse` of the server's RFC 3339 `added_at`. */
function byAdded(a: LibraryItem, b: LibraryItem): number {
	return Date.parse(b.added_at) - Date.parse(a.added_at);
}

export function browse(items: readonly LibraryItem[], options: BrowseOptions, lang: string): LibraryItem[] {
	const collator = new Intl.Collator(lang, { sensitivity: 'base', numeric: true });
	const byTitle = (a: LibraryItem, b: LibraryItem) => collator.compare(a.title, b.title);
	const order = {
		title: byTitle,
		year: (a: LibraryItem, b: LibraryItem) => (b.year ?? -Infinity) - (a.year ?? -Infinity) || byTitle(a, b),
		added: (a: LibraryItem, b: LibraryItem) => byAdded(a, b) || byTitle(a, b)
	}[options.sort];
	return items
		.filter((item) => options.kind === 'all' || item.media_type === options.kind)
		.filter((item) => options.watched === 'all' || item.watched === (options.watched === 'watched'))
		.sort(order);
}

/** The "Ajoutés récemment" row: the newest titles, films and series together. */
export function recentlyAdded(items: readonly LibraryItem[], limit = 20): LibraryItem[] {
	return [...items].sort(byAdded).slice(0, limit);
}
