/// The console's Mustache templates, style sheet and script: shipped inside the binary, so the page needs no
/// CDN, no build step and no network beyond the console itself. `{{x}}` escapes HTML; nothing uses `{{{x}}}`.
enum ConsoleTemplates {
    /// Every template by name (pages include the `head` and `foot` partials).
    static let all: [String: String] = [
        "head": head, "foot": foot, "login": login, "overview": overview, "overviewTable": overviewTable,
        "workers": workers, "dead": dead, "deadShow": deadShow, "connections": connections,
        "connectionShow": connectionShow, "message": message,
    ]

    static let head = """
        <!doctype html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>{{title}} · calsync console</title>
        <link rel="stylesheet" href="/static/console.css">
        <script src="/static/console.js" defer></script>
        </head>
        <body>
        <header>
          <strong class="brand">calsync</strong>
          {{#session}}
          <nav>
            <a href="/" {{#navOverview}}class="here"{{/navOverview}}>Overview</a>
            <a href="/workers" {{#navWorkers}}class="here"{{/navWorkers}}>Workers</a>
            <a href="/dead" {{#navDead}}class="here"{{/navDead}}>Dead jobs</a>
            <a href="/connections" {{#navConnections}}class="here"{{/navConnections}}>Connections</a>
          </nav>
          <form method="post" action="/logout" class="logout">
            <input type="hidden" name="csrf" value="{{csrf}}">
            <span id="operator">{{operatorName}}</span> <button type="submit" id="logout">Log out</button>
          </form>
          {{/session}}
        </header>
        <main>
        {{#notice}}<p class="notice" id="notice">{{notice}}</p>{{/notice}}
        {{#problem}}<p class="problem" id="problem">{{problem}}</p>{{/problem}}

        """

    static let foot = """
        </main>
        </body>
        </html>

        """

    static let login = """
        {{> head}}
        <h1>Sign in</h1>
        <form method="post" action="/login" class="login" id="login-form">
          <input type="hidden" name="csrf" value="{{loginToken}}">
          <label>Your name <input name="operator" id="operator-name" required maxlength="64" autocomplete="username"></label>
          <label>Password <input type="password" name="password" id="password" required autocomplete="current-password"></label>
          <button type="submit" id="sign-in">Sign in</button>
        </form>
        <p class="hint">Your name is recorded with every action you take.</p>
        {{> foot}}
        """

    static let overview = """
        {{> head}}
        <h1>Overview</h1>
        <div id="overview" data-refresh="/overview/table" data-every="{{refreshSeconds}}">
        {{> overviewTable}}
        </div>
        {{> foot}}
        """

    static let overviewTable = """
        <table class="grid" id="queues">
        <thead><tr><th>Job type</th><th>Ready</th><th>Scheduled</th><th>In flight</th><th>Dead</th><th>Oldest ready</th><th>Done in 5 min</th></tr></thead>
        <tbody>
        {{#types}}
        <tr><td>{{type}}</td><td class="n">{{ready}}</td><td class="n">{{scheduled}}</td><td class="n">{{inFlight}}</td><td class="n">{{#deadLink}}<a href="/dead?type={{type}}">{{dead}}</a>{{/deadLink}}{{^deadLink}}{{dead}}{{/deadLink}}</td><td class="n">{{oldest}}</td><td class="n">{{done}}</td></tr>
        {{/types}}
        </tbody>
        <tfoot><tr><th>All</th><th class="n">{{readyTotal}}</th><th class="n">{{scheduledTotal}}</th><th class="n">{{inFlightTotal}}</th><th class="n"><a href="/dead">{{deadTotal}}</a></th><th class="n">{{oldestTotal}}</th><th class="n">{{doneTotal}}</th></tr></tfoot>
        </table>
        <p class="meta">{{workerCount}} live worker(s) · {{deadTrimmed}} dead record(s) trimmed so far · updated <span id="updated-at">{{updatedAt}}</span></p>
        """

    static let workers = """
        {{> head}}
        <h1>Workers</h1>
        {{^workers}}<p id="no-workers">No live worker: none has sent a heartbeat in the last few seconds.</p>{{/workers}}
        <table class="grid" id="workers">
        <thead><tr><th>Worker</th><th>Host</th><th>PID</th><th>Version</th><th>Concurrency</th><th>In flight</th><th>By type</th><th>Up since</th><th>Heartbeat</th></tr></thead>
        <tbody>
        {{#workers}}
        <tr><td>{{id}}</td><td>{{host}}</td><td class="n">{{pid}}</td><td>{{version}}</td><td class="n">{{concurrency}}</td><td class="n">{{inFlight}}</td><td>{{byType}}</td><td>{{startedAt}}</td><td>{{beatAge}} ago</td></tr>
        {{/workers}}
        </tbody>
        </table>
        {{> foot}}
        """

    static let dead = """
        {{> head}}
        <h1>Dead jobs <span class="count">{{total}} in all</span></h1>
        <form method="get" action="/dead" class="filters" id="dead-filter">
          <label>Type <select name="type" id="filter-type"><option value="">any</option>{{#typeOptions}}<option value="{{value}}" {{#selected}}selected{{/selected}}>{{value}}</option>{{/typeOptions}}</select></label>
          <label>Reason <input name="reason" id="filter-reason" list="reasons" value="{{reason}}" placeholder="any"></label>
          <datalist id="reasons">{{#reasonOptions}}<option value="{{value}}">{{/reasonOptions}}</datalist>
          <label>Text <input name="q" id="filter-text" value="{{text}}" placeholder="id, error or job text"></label>
          <button type="submit" id="apply-filter">Filter</button>
        </form>
        <form method="post" action="/dead/selected" id="dead-selected">
          <input type="hidden" name="csrf" value="{{csrf}}">
          <input type="hidden" name="back" value="{{back}}">
          <table class="grid" id="dead">
          <thead><tr><th><input type="checkbox" id="select-all" title="select all on this page"></th><th>Last failed</th><th>Id</th><th>Type</th><th>Reason</th><th>HTTP</th><th>Attempts</th><th>Error</th></tr></thead>
          <tbody>
          {{#records}}
          <tr class="dead-row" data-id="{{id}}"><td><input type="checkbox" name="ids[]" value="{{id}}"></td><td>{{lastFailed}}</td><td><a href="/dead/show?id={{id}}">{{id}}</a></td><td>{{type}}</td><td>{{reason}}</td><td class="n">{{http}}</td><td class="n">{{attempts}}</td><td class="error">{{error}}</td></tr>
          {{/records}}
          </tbody>
          </table>
          {{^records}}<p id="no-dead">No dead job matches.</p>{{/records}}
          <p class="actions">
            <button type="submit" name="action" value="retry" id="retry-selected">Retry selected</button>
            <button type="submit" name="action" value="purge" id="purge-selected" class="danger">Purge selected</button>
          </p>
        </form>
        <p class="paging">{{#budgetReached}}Read {{scanned}} records without filling the page. {{/budgetReached}}{{#nextLink}}<a href="{{nextLink}}" id="next-page">Next page →</a>{{/nextLink}} {{#firstLink}}<a href="{{firstLink}}" id="first-page">First page</a>{{/firstLink}}</p>
        <form method="post" action="/dead/matching" class="actions" data-confirm="Act on every dead job this filter matches?" id="dead-matching">
          <input type="hidden" name="csrf" value="{{csrf}}">
          <input type="hidden" name="type" value="{{type}}">
          <input type="hidden" name="reason" value="{{reason}}">
          <input type="hidden" name="q" value="{{text}}">
          <button type="submit" name="action" value="retry" id="retry-matching">Retry all matching</button>
          <button type="submit" name="action" value="purge" id="purge-matching" class="danger">Purge all matching</button>
        </form>
        {{> foot}}
        """

    static let deadShow = """
        {{> head}}
        <h1>Dead job <code id="dead-id">{{record.id}}</code></h1>
        <dl class="fields">
          <dt>Type</dt><dd>{{record.type}}</dd>
          <dt>Reason</dt><dd id="dead-reason">{{record.reason}}</dd>
          <dt>Error</dt><dd id="dead-error">{{record.error}}</dd>
          <dt>HTTP status</dt><dd id="dead-http">{{record.http}}</dd>
          <dt>Attempts</dt><dd id="dead-attempts">{{record.attempts}}</dd>
          <dt>First failed</dt><dd>{{record.firstFailed}}</dd>
          <dt>Last failed</dt><dd>{{record.lastFailed}}</dd>
        </dl>
        <h2>Job (secret fields redacted)</h2>
        <pre id="dead-raw">{{record.raw}}</pre>
        <form method="post" action="/dead/retry" class="inline">
          <input type="hidden" name="csrf" value="{{csrf}}"><input type="hidden" name="id" value="{{record.id}}">
          <button type="submit" id="retry-one">Retry</button>
        </form>
        <form method="post" action="/dead/purge" class="inline">
          <input type="hidden" name="csrf" value="{{csrf}}"><input type="hidden" name="id" value="{{record.id}}">
          <button type="submit" id="purge-one" class="danger">Purge</button>
        </form>
        <p><a href="/dead">← Dead jobs</a></p>
        {{> foot}}
        """

    static let connections = """
        {{> head}}
        <h1>Connections</h1>
        <form method="get" action="/connections" class="filters" id="connection-filter">
          <label>Member or email <input name="q" id="connection-search" value="{{search}}"></label>
          <label>Status <select name="status" id="connection-status"><option value="">any</option>{{#statusOptions}}<option value="{{value}}" {{#selected}}selected{{/selected}}>{{value}}</option>{{/statusOptions}}</select></label>
          <button type="submit" id="apply-connection-filter">Search</button>
        </form>
        <table class="grid" id="connections">
        <thead><tr><th>Member</th><th>Provider</th><th>Account</th><th>Status</th><th>Last in</th><th>Last out</th><th>Push</th><th>Rate limited until</th></tr></thead>
        <tbody>
        {{#connections}}
        <tr class="status-{{status}}"><td><a href="/connections/show?id={{id}}">{{memberID}}</a></td><td>{{provider}}</td><td>{{email}}</td><td>{{status}}{{#statusDetail}}<br><small>{{statusDetail}}</small>{{/statusDetail}}</td><td>{{inbound}}{{#inboundError}}<br><small class="error">{{inboundError}}</small>{{/inboundError}}</td><td>{{outbound}}{{#outboundError}}<br><small class="error">{{outboundError}}</small>{{/outboundError}}</td><td>{{push}}</td><td>{{rateLimitedUntil}}</td></tr>
        {{/connections}}
        </tbody>
        </table>
        {{^connections}}<p id="no-connections">No connection matches.</p>{{/connections}}
        {{> foot}}
        """

    static let connectionShow = """
        {{> head}}
        <h1>Connection of <span id="connection-member">{{c.memberID}}</span> ({{c.provider}})</h1>
        <dl class="fields">
          <dt>Account</dt><dd>{{c.email}}</dd>
          <dt>Status</dt><dd id="connection-status-value">{{c.status}}</dd>
          <dt>Status detail</dt><dd>{{c.statusDetail}}</dd>
          <dt>Direction</dt><dd>{{c.direction}}</dd>
          <dt>Last sync in</dt><dd>{{c.inbound}}</dd>
          <dt>Last inbound error</dt><dd class="error">{{c.inboundError}}</dd>
          <dt>Last sync out</dt><dd>{{c.outbound}}</dd>
          <dt>Last outbound error</dt><dd class="error">{{c.outboundError}}</dd>
          <dt>Rate limited until</dt><dd>{{c.rateLimitedUntil}}</dd>
          <dt>Access token expires</dt><dd>{{c.tokenExpires}}</dd>
          <dt>Push</dt><dd id="connection-push">{{#c.pushColumns}}{{name}}: {{value}}<br>{{/c.pushColumns}}{{^c.pushColumns}}no push columns on this database yet{{/c.pushColumns}}</dd>
          <dt>Updated</dt><dd>{{c.updated}}</dd>
        </dl>
        <form method="post" action="/connections/resync" class="inline">
          <input type="hidden" name="csrf" value="{{csrf}}"><input type="hidden" name="id" value="{{c.id}}">
          <button type="submit" id="resync">Resync now</button>
        </form>
        <form method="post" action="/connections/refresh-token" class="inline">
          <input type="hidden" name="csrf" value="{{csrf}}"><input type="hidden" name="id" value="{{c.id}}">
          <button type="submit" id="refresh-token">Refresh token</button>
        </form>
        <p><a href="/connections">← Connections</a></p>
        {{> foot}}
        """

    static let message = """
        {{> head}}
        <h1>{{heading}}</h1>
        <p id="message">{{text}}</p>
        <p><a href="{{back}}">Back</a></p>
        {{> foot}}
        """

    /// The style sheet (`/static/console.css`).
    static let css = """
        body { font: 14px/1.4 system-ui, sans-serif; margin: 0; color: #1d232a; background: #f6f7f9; }
        header { display: flex; gap: 1.5em; align-items: center; padding: .6em 1.2em; background: #1d3557; color: #fff; }
        header a { color: #dfe7f2; text-decoration: none; margin-right: 1em; }
        header a.here { color: #fff; font-weight: 600; border-bottom: 2px solid #fff; }
        header .logout { margin-left: auto; }
        .brand { font-size: 1.1em; }
        main { padding: 1em 1.5em; }
        h1 .count { font-size: .6em; color: #667; font-weight: normal; }
        table.grid { border-collapse: collapse; background: #fff; width: 100%; }
        table.grid th, table.grid td { border: 1px solid #dde1e6; padding: .3em .5em; text-align: left; vertical-align: top; }
        table.grid thead th { background: #eef1f5; }
        table.grid td.n, table.grid th.n { text-align: right; font-variant-numeric: tabular-nums; }
        .error { color: #a4262c; }
        tr.status-reconnect_required td { background: #fff4e5; }
        tr.status-disconnected td { color: #889; }
        .notice { background: #e7f5ec; border: 1px solid #a7d7b8; padding: .5em; }
        .problem { background: #fdecea; border: 1px solid #f1aeb5; padding: .5em; }
        .filters label, .login label { display: inline-block; margin-right: 1em; }
        .login label { display: block; margin: .5em 0; }
        form.inline { display: inline-block; margin-right: .5em; }
        button.danger { color: #a4262c; }
        pre { background: #fff; border: 1px solid #dde1e6; padding: .6em; white-space: pre-wrap; word-break: break-all; }
        dl.fields { display: grid; grid-template-columns: 12em 1fr; gap: .2em 1em; }
        dl.fields dt { color: #556; }
        .meta, .hint { color: #667; }

        """

    /// The script (`/static/console.js`): refreshes `[data-refresh]` parts, selects all, confirms bulk actions.
    static let javascript = """
        "use strict";
        document.querySelectorAll("[data-refresh]").forEach(function (part) {
          var every = (parseInt(part.getAttribute("data-every"), 10) || 5) * 1000;
          setInterval(function () {
            fetch(part.getAttribute("data-refresh"), { credentials: "same-origin" })
              .then(function (response) {
                if (response.status === 401) { window.location.href = "/login"; throw new Error("signed out"); }
                if (!response.ok) { throw new Error("HTTP " + response.status); }
                return response.text();
              })
              .then(function (html) { part.innerHTML = html; })
              .catch(function () {});
          }, every);
        });
        var selectAll = document.getElementById("select-all");
        if (selectAll) {
          selectAll.addEventListener("change", function () {
            document.querySelectorAll("input[name='ids[]']").forEach(function (box) { box.checked = selectAll.checked; });
          });
        }
        document.querySelectorAll("form[data-confirm]").forEach(function (form) {
          form.addEventListener("submit", function (event) {
            if (!window.confirm(form.getAttribute("data-confirm"))) { event.preventDefault(); }
          });
        });

        """
}
