import { fireEvent, render, screen } from '@testing-library/svelte';
import { describe, expect, it, vi } from 'vitest';
import EndCard from './EndCard.svelte';

function card(next: string | null) {
	const handlers = { onNext: vi.fn(), onReplay: vi.fn(), onClose: vi.fn() };
	render(EndCard, { next, backHref: '/title/tv/1396', ...handlers });
	return handlers;
}

describe('EndCard', () => {
	// Where focus lands is the e2e's (22-end-card): jsdom lays nothing out, so nothing is focusable.
	it('after the last episode: back to the title or replay', async () => {
		const { onReplay } = card(null);
		expect(screen.getByRole('dialog', { name: 'Vous avez vu le dernier épisode' })).toBeInTheDocument();
		expect(screen.queryByTestId('end-next')).toBeNull();
		const back = screen.getByRole('link', { name: 'Retour à la fiche' });
		expect(back).toHaveAttribute('href', '/title/tv/1396');
		await fireEvent.click(screen.getByRole('button', { name: 'Revoir l’épisode' }));
		expect(onReplay).toHaveBeenCalledTimes(1);
	});

	it('after "Annuler": offers the next episode again; Esc closes', async () => {
		const { onNext, onClose } = card('S1 · É2 — The Next One');
		const next = screen.getByRole('button', { name: 'Épisode suivant : S1 · É2 — The Next One' });
		await fireEvent.click(next);
		expect(onNext).toHaveBeenCalledTimes(1);
		await fireEvent.keyDown(next, { key: 'Escape' });
		expect(onClose).toHaveBeenCalledTimes(1);
	});
});
