// Sorting and filtering the library on the home page: pure, so the rules are tested without a
// browser. "Watched" is known for films only (a finished saved position); a series is never
// called watched from the home page, which does not list its episodes.
import type { LibraryItem, ProgressEntry } from '$lib/api/types';
import { isFinished } from '$lib/media';

export type SortOrder = 'title' | 'year';
export type KindFilter = 'all' | 'movie' | 'tv';
export type WatchedFilter = 'all' | 'watched' | 'unwatched';

export interface BrowseOptions {
	sort: SortOrder;
	kind: KindFilter;
	watched: WatchedFilter;
}

export const DEFAULT_BROWSE: BrowseOptions = { sort: 'title', kind: 'all', watched: 'all' };

/** The films whose saved position is finished, as `movie:<id>` keys. */
export function watchedFilms(progress: readonly ProgressEntry[]): Set<string> {
	return new Set(
		progress
			.filter((p) => p.media_type === 'movie' && isFinished(p.position, p.duration))
			.map((p) => `movie:${p.tmdb_id}`)
	);
}

export function browse(
	items: readonly LibraryItem[],
	watched: ReadonlySet<string>,
	options: BrowseOptions,
	lang: string
): LibraryItem[] {
	const seen = (item: LibraryItem) => watched.has(`${item.media_type}:${item.tmdb_id}`);
	const collator = new Intl.Collator(lang, { sensitivity: 'base', numeric: true });
	return items
		.filter((item) => options.kind === 'all' || item.media_type === options.kind)
		.filter((item) => options.watched === 'all' || seen(item) === (options.watched === 'watched'))
		.sort((a, b) =>
			options.sort === 'year'
				? (b.year ?? -Infinity) - (a.year ?? -Infinity) || collator.compare(a.title, b.title)
				: collator.compare(a.title, b.title)
		);
}
