import { error } from '@sveltejs/kit';
import { ApiError, getLibraryItem, getMetadata, getTitleProgress } from '$lib/api/client';
import { describeError } from '$lib/api/error-text';
import type { LibraryItemDetail, Metadata, ProgressEntry } from '$lib/api/types';
import { currentLang } from '$lib/i18n';
import { LANGUAGE_DEPENDENCY } from '$lib/i18n/preference';
import { parseTitleParams } from '$lib/route-params';
import type { PageLoad } from './$types';

export const load = (async ({ params, fetch, depends }) => {
	// TMDB's texts are in the interface's language: the header's switch reloads them.
	depends(LANGUAGE_DEPENDENCY);
	const parsed = parseTitleParams(params);
	if (!parsed.ok) error(parsed.status, parsed.message);
	const { media_type, tmdb_id } = parsed.value;

	const [item, progress, meta] = await Promise.all([
		getLibraryItem(media_type, tmdb_id, { fetch }).catch((cause: unknown): LibraryItemDetail | null => {
			// Not in the local library is fine: the streaming providers may still have it.
			if (cause instanceof ApiError && cause.isNotFound) return null;
			const status = cause instanceof ApiError && cause.status >= 400 ? cause.status : 500;
			const said = describeError(cause);
			error(status, { message: said.text, details: said.details });
		}),
		// All of this title's positions (a long series has more than the 50 most recent).
		getTitleProgress(media_type, tmdb_id, { fetch }).catch((): ProgressEntry[] => []),
		// TMDB enriches the page when configured; without it the library's metadata is enough.
		getMetadata(media_type, tmdb_id, { fetch, language: currentLang() }).catch((): Metadata | null => null)
	]);

	return {
		media_type,
		tmdb_id,
		item,
		meta,
		progress
	};
}) satisfies PageLoad;
