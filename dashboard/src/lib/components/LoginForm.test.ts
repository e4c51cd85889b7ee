import { fireEvent, render, screen } from '@testing-library/svelte';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { TOKEN_STORAGE_KEY } from '$lib/api/client';
import LoginForm from './LoginForm.svelte';

function status(code: number): Response {
	return new Response(JSON.stringify(code === 200 ? { items: [] } : { error: { code: 'unauthorized', message: 'no' } }), {
		status: code,
		headers: { 'Content-Type': 'application/json' }
	});
}

async function submit(token: string) {
	await fireEvent.input(screen.getByLabelText('Jeton d’accès'), { target: { value: token } });
	await fireEvent.submit(screen.getByTestId('login-form'));
}

beforeEach(() => localStorage.clear());
afterEach(() => vi.unstubAllGlobals());

describe('LoginForm', () => {
	it('stores an accepted token and hands over', async () => {
		const fetchMock = vi.fn().mockResolvedValue(status(200));
		vi.stubGlobal('fetch', fetchMock);
		const onsuccess = vi.fn();
		render(LoginForm, { onsuccess });

		expect(screen.getByRole('heading', { name: 'Connexion' })).toBeInTheDocument();
		await submit('  s3cret ');

		await vi.waitFor(() => expect(onsuccess).toHaveBeenCalledTimes(1));
		const [url, init] = fetchMock.mock.calls[0] as [string, RequestInit];
		expect(url).toBe('/api/progress');
		expect((init.headers as Record<string, string>).Authorization).toBe('Bearer s3cret');
		expect(localStorage.getItem(TOKEN_STORAGE_KEY)).toBe('s3cret');
	});

	it('says so when the server refuses the token, and stores nothing', async () => {
		vi.stubGlobal('fetch', vi.fn().mockResolvedValue(status(401)));
		const onsuccess = vi.fn();
		render(LoginForm, { onsuccess });

		await submit('wrong');

		expect(await screen.findByTestId('login-error')).toHaveTextContent('Jeton refusé.');
		expect(onsuccess).not.toHaveBeenCalled();
		expect(localStorage.getItem(TOKEN_STORAGE_KEY)).toBeNull();
	});

	it('tells a refused stored token from a missing one', () => {
		localStorage.setItem(TOKEN_STORAGE_KEY, 'old');
		render(LoginForm, { onsuccess: vi.fn() });

		expect(screen.getByText('Le jeton enregistré dans ce navigateur a été refusé.')).toBeInTheDocument();
	});
});
