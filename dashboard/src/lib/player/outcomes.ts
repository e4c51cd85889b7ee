// Turns the resolve `outcomes` plus the player's own source failures into one line per provider,
// for the "nothing plays" message: the user should see *why* each provider gave nothing.
import type { OutcomeStatus, ProviderOutcome } from '$lib/api/types';
import { codeText } from '$lib/api/error-text';
import { t, tp } from '$lib/i18n';
import type { SourceFailure } from './fallback';

export interface OutcomeRow {
	provider: string;
	status: OutcomeStatus;
	/** What the provider answered, e.g. "2 sources trouvées" or "erreur : upstream_unreachable". */
	summary: string;
	/** One line per source of this provider that failed to play, e.g. "1080p : accès refusé (HTTP 403)". */
	failures: string[];
	/** The server's own code and English message, for the "Détails techniques" toggle. */
	details: string | null;
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
	// The server's `message` is English: a known `code` is said in the interface's language.
	const known = codeText(outcome.code);
	switch (outcome.status) {
		case 'ok':
			return outcome.sources != null ? tp('outcome.ok', outcome.sources) : t('outcome.playback');
		case 'empty': {
			// Why the provider found nothing ("not in the library") is the useful part.
			const why = known ?? outcome.message;
			return why ? t('outcome.emptyBecause', { message: why }) : t('outcome.empty');
		}
		case 'timeout':
			return t('outcome.timeout');
		case 'error':
			return known ?? t('outcome.error', { message: outcome.message || outcome.code || '?' });
	}
}

function detailsOf(outcome: ProviderOutcome): string | null {
	if (!outcome.code && !outcome.message) return null;
	return [outcome.code, outcome.message].filter(Boolean).join(': ');
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
		failures: failureLines(outcome.provider),
		details: detailsOf(outcome)
	}));
	// A source whose provider is missing from `outcomes` still deserves a line.
	for (const provider of new Set(failures.map((f) => f.provider))) {
		if (rows.some((r) => r.provider === provider)) continue;
		rows.push({ provider, status: 'ok', summary: t('outcome.playback'), failures: failureLines(provider), details: null });
	}
	return rows;
}
