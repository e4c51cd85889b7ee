// Turns the resolve `outcomes` plus the player's own source failures into one line per provider,
// for the "nothing plays" message: the user should see *why* each provider gave nothing.
import type { OutcomeStatus, ProviderOutcome } from '$lib/api/types';
import { t, tp } from '$lib/i18n';
import type { SourceFailure } from './fallback';

export interface OutcomeRow {
	provider: string;
	status: OutcomeStatus;
	/** What the provider answered, e.g. "2 sources trouvées" or "erreur : upstream_unreachable". */
	summary: string;
	/** One line per source of this provider that failed to play, e.g. "1080p : accès refusé (HTTP 403)". */
	failures: string[];
}

export function describeFailure(failure: SourceFailure): string {
	return t(`reason.${failure.reason}`, { status: failure.status ?? '?' });
}

function summarize(outcome: ProviderOutcome): string {
	const main = statusText(outcome);
	// Torrents, YouTube and external links a provider found but a browser cannot play.
	return outcome.skipped
		? t('outcome.withSkipped', { main, skipped: tp('outcome.skipped', outcome.skipped) })
		: main;
}

function statusText(outcome: ProviderOutcome): string {
	switch (outcome.status) {
		case 'ok':
			return outcome.sources != null ? tp('outcome.ok', outcome.sources) : t('outcome.playback');
		case 'empty':
			// The server says why ("movie 404 is not in the library"): that is the useful part.
			return outcome.message ? t('outcome.emptyBecause', { message: outcome.message }) : t('outcome.empty');
		case 'timeout':
			return t('outcome.timeout');
		case 'error':
			return t('outcome.error', { message: outcome.message || outcome.code || '?' });
	}
}

export function describeOutcomes(
	outcomes: readonly ProviderOutcome[],
	failures: readonly SourceFailure[]
): OutcomeRow[] {
	const failureLines = (provider: string) =>
		failures
			.filter((f) => f.provider === provider)
			.map((f) => t('outcome.failureLine', { quality: f.quality || '?', reason: describeFailure(f) }));

	const rows: OutcomeRow[] = outcomes.map((outcome) => ({
		provider: outcome.provider,
		status: outcome.status,
		summary: summarize(outcome),
		failures: failureLines(outcome.provider)
	}));
	// A source whose provider is missing from `outcomes` still deserves a line.
	for (const provider of new Set(failures.map((f) => f.provider))) {
		if (rows.some((r) => r.provider === provider)) continue;
		rows.push({ provider, status: 'ok', summary: t('outcome.playback'), failures: failureLines(provider) });
	}
	return rows;
}
