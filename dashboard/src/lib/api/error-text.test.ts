import { afterEach, describe, expect, it } from 'vitest';
import { setMessages } from '$lib/i18n';
import { ApiError } from './client';
import { describeError } from './error-text';

afterEach(() => setMessages(null, 'fr'));

describe('describeError', () => {
	it('says a known code in the interface language and keeps the server’s words as details', () => {
		const cause = new ApiError(404, 'item_not_found', 'no movie 99999 in the library');
		expect(describeError(cause)).toEqual({
			text: 'Ce titre n’est pas dans la bibliothèque.',
			details: 'item_not_found: no movie 99999 in the library'
		});
		setMessages(null, 'en');
		expect(describeError(cause).text).toBe('This title is not in the library.');
	});

	it('shows the server’s message for a code it does not know', () => {
		const text = describeError(new ApiError(418, 'brand_new_code', 'a teapot'));
		expect(text).toEqual({ text: 'Le serveur a répondu : a teapot', details: 'Code : brand_new_code' });
	});

	it('never shows the browser’s English for a network failure, only as details', () => {
		setMessages(null, 'fr');
		const text = describeError({ code: 'network_error', message: 'Failed to fetch' });
		expect(text.text).toBe('Impossible de joindre le serveur (réseau coupé ou serveur arrêté).');
		expect(text.details).toBe('Failed to fetch');
	});

	it('names an HTTP status without a body', () => {
		expect(describeError(new ApiError(502, 'http_502', 'HTTP 502')).text).toBe(
			'Le serveur a répondu par une erreur HTTP 502.'
		);
	});
});
