// start.js mounts GraphiQL on the page served by internal/graphiql. It is a
// file rather than an inline script so that the page's Content-Security-Policy
// can allow scripts from 'self' only.
(function () {
  'use strict';

  var root = document.getElementById('graphiql');
  // The server injects the endpoint's path; GraphiQL's fetcher wants an
  // absolute URL, so resolve it against wherever this page was loaded from.
  var endpoint = new URL(root.dataset.endpoint, window.location.href).toString();
  // Subscriptions go over graphql-transport-ws on the same path; GraphiQL
  // sends the Headers tab (the token) as connection_init's payload.
  var socket = endpoint.replace(/^http/, 'ws');

  var defaultQuery = [
    '# Your LEGO collection, ten sets at a time.',
    '#',
    '# Every request needs a bearer token: put one in the Headers tab below.',
    '# For the demo collection (sets db seed), get one with',
    '#   go run . token --email demo@example.com',
    '',
    'query Gallery {',
    '  sets(first: 10) {',
    '    totalCount',
    '    nodes {',
    '      id',
    '      title',
    '      setNumber',
    '      theme',
    '      pieceCount',
    '      images {',
    '        imageUrl',
    '      }',
    '    }',
    '  }',
    '}',
    ''
  ].join('\n');

  var defaultHeaders = JSON.stringify(
    { Authorization: 'Bearer <token from: go run . token --email demo@example.com>' },
    null,
    2
  );

  var props = {
    fetcher: GraphiQL.createFetcher({ url: endpoint, subscriptionUrl: socket }),
    defaultQuery: defaultQuery,
    defaultHeaders: defaultHeaders,
    isHeadersEditorEnabled: true,
    defaultEditorToolsVisibility: 'headers',
    // Keeps the token across reloads, in this browser's localStorage.
    shouldPersistHeaders: true
  };

  // ?query=, ?variables= and ?headers= open the page with those editor
  // contents, as GraphiQL's own examples do: links to a ready query, and the
  // way the browser test fills the editors.
  var params = new URLSearchParams(window.location.search);
  ['query', 'variables', 'headers'].forEach(function (name) {
    if (params.has(name)) {
      props[name] = params.get(name);
    }
  });

  ReactDOM.createRoot(root).render(React.createElement(GraphiQL, props));
})();
