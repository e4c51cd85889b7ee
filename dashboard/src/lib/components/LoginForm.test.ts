import { fireEvent, render, screen } from '@testing-library/svelte';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import LoginForm from './LoginForm.svelte';

function answer(status: number, body: unknown): Response {
	return new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json' } });
}

async function submit(username: string, password: string) {
	await fireEvent.input(screen.getByLabelText('Nom d’utilisateur'), { target: { value: username } });
	await fireEvent.input(screen.getByLabelText('Mot de passe'), { target: { value: password } });
	await fireEvent.submit(screen.getByTestId(screen.queryByTestId('setup-form') ? 'setup-form' : 'login-form'));
}

beforeEach(() => localStorage.clear());
afterEach(() => vi.unstubAllGlobals());

describe('LoginForm', () => {
	it('logs in with a name and a password, and stores nothing in the browser', async () => {
		const fetchMock = vi.fn().mockResolvedValue(answer(200, { username: 'alice', role: 'member' }));
		vi.stubGlobal('fetch', fetchMock);
		const onsuccess = vi.fn();
		render(LoginForm, { onsuccess });

		expect(screen.getByRole('heading', { name: 'Connexion' })).toBeInTheDocument();
		await submit(' alice ', 'correct horse');

		await vi.waitFor(() => expect(onsuccess).toHaveBeenCalledTimes(1));
		const [url, init] = fetchMock.mock.calls[0] as [string, RequestInit];
		expect(url).toBe('/api/auth/login');
		expect(JSON.parse(init.body as string)).toEqual({ username: 'alice', password: 'correct horse' });
		expect(localStorage.length).toBe(0);
	});

	it('says so when the name or the password is wrong', async () => {
		vi.stubGlobal(
			'fetch',
			vi.fn().mockResolvedValue(answer(401, { error: { code: 'invalid_credentials', message: 'wrong' } }))
		);
		const onsuccess = vi.fn();
		render(LoginForm, { onsuccess });

		await submit('alice', 'wrong password');

		expect(await screen.findByTestId('login-error')).toHaveTextContent('Nom d’utilisateur ou mot de passe incorrect.');
		expect(onsuccess).not.toHaveBeenCalled();
	});

	it('tells how long to wait when throttled', async () => {
		vi.stubGlobal(
			'fetch',
			vi.fn().mockResolvedValue(
				answer(429, { error: { code: 'too_many_attempts', message: 'too many failed logins; retry in 4 s' } })
			)
		);
		render(LoginForm, { onsuccess: vi.fn() });

		await submit('alice', 'guess guess');

		expect(await screen.findByTestId('login-error')).toHaveTextContent('Trop de tentatives. Réessayez dans 4 s.');
	});

	it('creates the first admin, with the API token when the server has one', async () => {
		const fetchMock = vi.fn().mockResolvedValue(answer(201, { username: 'admin', role: 'admin' }));
		vi.stubGlobal('fetch', fetchMock);
		const onsuccess = vi.fn();
		render(LoginForm, { mode: 'setup', needsToken: true, onsuccess });

		expect(screen.getByRole('heading', { name: 'Créer le compte administrateur' })).toBeInTheDocument();
		await fireEvent.input(screen.getByLabelText('Jeton d’accès (SOKOUL_API_TOKEN)'), { target: { value: 'tok' } });
		await submit('admin', 'correct horse');

		await vi.waitFor(() => expect(onsuccess).toHaveBeenCalledTimes(1));
		const [url, init] = fetchMock.mock.calls[0] as [string, RequestInit];
		expect(url).toBe('/api/auth/setup');
		expect((init.headers as Record<string, string>).Authorization).toBe('Bearer tok');
		expect(localStorage.length).toBe(0);
	});
});
