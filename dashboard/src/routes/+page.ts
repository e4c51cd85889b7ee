import { getLibraryItems, getProgressList } from '$lib/api/client';
import { errorInfo } from '$lib/api/error-text';
import type { LibraryItem, ProgressEntry } from '$lib/api/types';
import type { PageLoad } from './$types';

export const load = (async ({ fetch }) => {
	// The progress row is a nice-to-have: its failure must not hide the library.
	const [library, progress] = await Promise.allSettled([
		getLibraryItems({ fetch }),
		getProgressList({ fetch })
	]);
	return {
		items: library.status === 'fulfilled' ? library.value : ([] as LibraryItem[]),
		libraryError: library.status === 'rejected' ? errorInfo(library.reason) : null,
		progress: progress.status === 'fulfilled' ? progress.value : ([] as ProgressEntry[])
	};
}) satisfies PageLoad;
