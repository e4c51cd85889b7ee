// What a viewer reads of a failure: a sentence in the interface's language, made from the
// server's stable `code`; the server's own (English) `message` is kept for the "Détails
// techniques" toggle, and shown as the text only for a code this dashboard does not know.
import { hasMessage, t } from '$lib/i18n';

export interface ErrorText {
	text: string;
	/** The server's wording, for whoever debugs (hidden behind a toggle); null when nothing to add. */
	details: string | null;
}

/** What a failure carries: an ApiError, or its plain `{code, message, status}` copy in page data. */
interface Coded {
	code: string;
	message: string;
	status?: number;
}

function isCoded(value: unknown): value is Coded {
	const v = value as Partial<Coded> | null;
	return typeof v?.code === 'string' && typeof v.message === 'string';
}

/** The sentence for a server `code`, or null for a code the catalogue does not have. */
export function codeText(code: string | null | undefined): string | null {
	const key = `code.${code}`;
	return code && hasMessage(key) ? t(key) : null;
}

/** A plain copy of a failure, for page data. */
export function errorInfo(cause: unknown): Coded {
	if (isCoded(cause)) return { code: cause.code, message: cause.message, status: cause.status };
	return { code: 'client_error', message: cause instanceof Error ? cause.message : String(cause) };
}

export function describeError(cause: unknown): ErrorText {
	if (!isCoded(cause)) {
		const message = cause instanceof Error ? cause.message : String(cause);
		return { text: t('error.generic'), details: message || null };
	}
	const { code, message } = cause;
	// The client's own codes (client.ts): the request never got an answer, or not a JSON one.
	if (code === 'network_error') return { text: t('error.network'), details: message };
	const http = /^http_(\d{3})$/.exec(code);
	if (http) return { text: t('error.status', { status: http[1] }), details: null };
	const known = codeText(code);
	if (known) return { text: known, details: `${code}: ${message}` };
	return { text: t('error.unexpected', { message }), details: t('error.code', { code }) };
}
