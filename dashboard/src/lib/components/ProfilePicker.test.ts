import { fireEvent, render, screen } from '@testing-library/svelte';
import { afterEach, describe, expect, it, vi } from 'vitest';
import ProfilePicker from './ProfilePicker.svelte';

function answer(status: number, body: unknown): Response {
	return new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json' } });
}

const profiles = [
	{ id: 1, name: 'alice', colour: '#e50914', has_pin: false, current: true },
	{ id: 2, name: 'Parents', colour: '#1e90ff', has_pin: true, current: false }
];

afterEach(() => vi.unstubAllGlobals());

describe('ProfilePicker', () => {
	it('asks the PIN of a protected profile on a pad, and says when it is wrong', async () => {
		const fetchMock = vi
			.fn()
			.mockResolvedValueOnce(answer(403, { error: { code: 'wrong_pin', message: 'wrong PIN' } }))
			.mockResolvedValueOnce(answer(200, { ...profiles[1], current: true }));
		vi.stubGlobal('fetch', fetchMock);
		const onchosen = vi.fn();
		render(ProfilePicker, { profiles, onchosen });
		expect(screen.getByRole('heading', { name: 'Qui regarde ?' })).toBeInTheDocument();

		await fireEvent.click(screen.getAllByTestId('profile-tile')[1]);
		for (const digit of '1111') await fireEvent.click(screen.getByTestId(`pin-digit-${digit}`));
		expect(await screen.findByTestId('profile-error')).toHaveTextContent('Code PIN incorrect.');
		for (const digit of '2468') await fireEvent.click(screen.getByTestId(`pin-digit-${digit}`));

		await vi.waitFor(() => expect(onchosen).toHaveBeenCalledTimes(1));
		const [url, init] = fetchMock.mock.calls[1] as [string, RequestInit];
		expect(url).toBe('/api/profiles/2/select');
		expect(JSON.parse(init.body as string)).toEqual({ pin: '2468' });
	});

	it('selects a profile without a PIN at once', async () => {
		const fetchMock = vi.fn().mockResolvedValue(answer(200, profiles[0]));
		vi.stubGlobal('fetch', fetchMock);
		const onchosen = vi.fn();
		render(ProfilePicker, { profiles, onchosen });
		await fireEvent.click(screen.getAllByTestId('profile-tile')[0]);
		await vi.waitFor(() => expect(onchosen).toHaveBeenCalledWith(profiles[0]));
		expect(JSON.parse((fetchMock.mock.calls[0] as [string, RequestInit])[1].body as string)).toEqual({});
	});
});
