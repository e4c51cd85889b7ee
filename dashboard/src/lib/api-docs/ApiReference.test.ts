import { fireEvent, render, screen, within } from '@testing-library/svelte';
import { afterEach, describe, expect, it, vi } from 'vitest';
import served from '$lib/api/generated/openapi.json';
import ApiReference from './ApiReference.svelte';
import type { OpenApiDocument } from './openapi';

const doc = served as unknown as OpenApiDocument;

afterEach(() => {
	vi.restoreAllMocks();
});

function operation(name: RegExp): HTMLElement {
	return screen.getByRole('region', { name });
}

// Rendering the whole document in jsdom takes about a second; CI's two busy cores get slack.
describe('ApiReference', { timeout: 20_000 }, () => {
	it('renders the title, every operation and every schema of the served document', () => {
		const { container } = render(ApiReference, { doc, origin: 'http://127.0.0.1:8080' });

		expect(screen.getByRole('heading', { level: 1 })).toHaveTextContent(doc.info.title);
		const operations = Object.values(doc.paths).flatMap((item) => Object.keys(item)).length;
		expect(container.querySelectorAll('section.operation')).toHaveLength(operations);
		const schemas = Object.keys(doc.components?.schemas ?? {});
		expect(container.querySelectorAll('section.schema')).toHaveLength(schemas.length);
	});

	it('shows a route with its token badge, parameters, responses and schema links', () => {
		render(ApiReference, { doc, origin: 'http://127.0.0.1:8080' });

		const resolve = operation(/^GET \/api\/streaming\/resolve\//);
		expect(within(resolve).getByText('Jeton requis')).toBeInTheDocument();
		expect(within(resolve).getByText('Resolve a title with every enabled provider.')).toBeInTheDocument();
		expect(within(resolve).getByText('tmdb_id')).toBeInTheDocument();
		const link = within(resolve).getByRole('link', { name: 'ResolveResponse' });
		expect(link).toHaveAttribute('href', '#schema-ResolveResponse');
		expect(document.getElementById('schema-ResolveResponse')).not.toBeNull();
		// Error codes in descriptions are code spans.
		expect(within(resolve).getAllByText('invalid_tmdb_id')[0].tagName).toBe('CODE');
	});

	it('does not ask for the token on the signed proxy or the health checks', () => {
		render(ApiReference, { doc, origin: 'http://127.0.0.1:8080' });

		expect(within(operation(/^GET \/api\/streaming\/proxy$/)).queryByText('Jeton requis')).toBeNull();
		expect(within(operation(/^GET \/healthz$/)).queryByText('Jeton requis')).toBeNull();
	});

	it('gives a curl example with the page origin', () => {
		render(ApiReference, { doc, origin: 'http://media.local:8080' });

		const health = operation(/^GET \/healthz$/);
		expect(within(health).getByText(`curl 'http://media.local:8080/healthz'`)).toBeInTheDocument();
	});

	it('downloads the document it shows, without another request', async () => {
		const createObjectURL = vi.fn((_blob: Blob) => 'blob:openapi');
		const revokeObjectURL = vi.fn();
		Object.assign(URL, { createObjectURL, revokeObjectURL });
		const click = vi.spyOn(HTMLAnchorElement.prototype, 'click').mockImplementation(() => {});
		render(ApiReference, { doc, origin: 'http://127.0.0.1:8080' });

		await fireEvent.click(screen.getByRole('button', { name: 'Télécharger openapi.json' }));

		expect(click).toHaveBeenCalledOnce();
		const blob = createObjectURL.mock.calls[0][0];
		expect(JSON.parse(await blob.text())).toEqual(doc);
		expect(revokeObjectURL).toHaveBeenCalledWith('blob:openapi');
	});
});
