// GraphiQL for kgtwin: queries over HTTP, subscriptions over graphql-transport-ws, both with
// the headers of the header editor. It starts with an Authorization header to complete:
// paste a token after "Bearer " once; GraphiQL keeps the headers in this browser.
(function () {
  "use strict";

  var WELCOME = [
    "# kgtwin: a knowledge-graph digital twin.",
    "#",
    "# 1. Open Headers (below) and paste your token after \"Bearer \"",
    "#    (an admin makes one: kgtwin token create --role viewer).",
    "# 2. Run this query (Ctrl-Enter), or build one with the Explorer (left).",
    "",
    "{",
    "  asset(id: \"ups-a1\") {",
    "    id label",
    "    classes { name }",
    "    points { id value unit observedAt stale }",
    "  }",
    "}",
    "",
  ].join("\n");
  var HEADERS = JSON.stringify({ Authorization: "Bearer " }, null, 2);

  var url = window.location.origin + window.location.pathname;
  var socketUrl = url.replace(/^http/, "ws");

  // One fetcher per set of headers: its WebSocket sends them in connection_init, which
  // is where kgtwin reads a token (browsers cannot put headers on a WebSocket). The
  // fetcher sends a subscription over the WebSocket when the document it is given says
  // so: parsed here from the query sent (GraphiQL's own parse may lag behind the editor).
  var fetchers = {};
  function fetcher(params, options) {
    options = Object.assign({}, options);
    try {
      options.documentAST = GraphiQL.GraphQL.parse(params.query);
    } catch (error) {
      // not GraphQL: sent as it is, for the server to say what is wrong
    }
    var headers = options.headers || {};
    var key = JSON.stringify(headers);
    if (!fetchers[key]) {
      fetchers[key] = GraphiQL.createFetcher({
        url: url,
        subscriptionUrl: socketUrl,
        headers: headers,
        wsConnectionParams: headers,
      });
    }
    return fetchers[key](params, options);
  }

  var explorer = GraphiQLPluginExplorer.explorerPlugin();
  var root = ReactDOM.createRoot(document.getElementById("graphiql"));
  root.render(
    React.createElement(GraphiQL, {
      fetcher: fetcher,
      defaultQuery: WELCOME,
      defaultHeaders: HEADERS,
      shouldPersistHeaders: true,
      defaultEditorToolsVisibility: "headers",
      plugins: [explorer],
    }),
  );
})();
