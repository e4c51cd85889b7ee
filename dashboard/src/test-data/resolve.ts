// Factories for resolve responses in tests.
import type { ProviderOutcome, ResolveResponse, StreamSource } from '$lib/api/types';

export function streamSource(extra: Partial<StreamSource> = {}): StreamSource {
	const provider = extra.provider ?? 'library';
	const quality = extra.quality ?? '1080p';
	return {
		url: `https://${provider}.example/${quality}.mp4`,
		proxy_url: `/api/streaming/proxy?p=${provider}&q=${quality}`,
		type: 'mp4',
		quality,
		provider,
		headers: {},
		...extra
	};
}

export function resolveResponse(extra: Partial<ResolveResponse> = {}): ResolveResponse {
	const sources = extra.sources ?? [streamSource()];
	const outcomes: ProviderOutcome[] =
		extra.outcomes ??
		[...new Set(sources.map((s) => s.provider))].map((provider) => ({
			provider,
			status: 'ok' as const,
			sources: sources.filter((s) => s.provider === provider).length,
			elapsed_ms: 0
		}));
	return {
		media: { media_type: 'movie', tmdb_id: 603, title: 'The Matrix' },
		sources,
		subtitles: [],
		markers: {},
		outcomes,
		cached: false,
		...extra
	};
}
