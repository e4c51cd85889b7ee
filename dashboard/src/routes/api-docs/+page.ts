import { getOpenApiDocument } from '$lib/api/client';
import { errorInfo } from '$lib/api/error-text';
import type { PageLoad } from './$types';

export const load = (async ({ fetch }) => {
	try {
		return { doc: await getOpenApiDocument({ fetch }), error: null };
	} catch (cause) {
		return { doc: null, error: errorInfo(cause) };
	}
}) satisfies PageLoad;
