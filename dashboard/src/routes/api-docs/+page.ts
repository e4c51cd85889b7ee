import { ApiError, getOpenApiDocument } from '$lib/api/client';
import type { PageLoad } from './$types';

export const load = (async ({ fetch }) => {
	try {
		return { doc: await getOpenApiDocument({ fetch }), error: null };
	} catch (cause) {
		const status = cause instanceof ApiError ? cause.status : 0;
		const message = cause instanceof Error ? cause.message : String(cause);
		return { doc: null, error: { status, message } };
	}
}) satisfies PageLoad;
