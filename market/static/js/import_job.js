(function () {
  var box = document.querySelector('[data-testid="import-job"]');
  function poll() {
    fetch(box.dataset.statusUrl, {headers: {Accept: 'application/json'}}).then(function (r) { return r.json(); })
      .then(function (s) {
        if (s.finished) { window.location.reload(); return; }
        document.getElementById('job-status').textContent = s.status_label;
        document.getElementById('job-done').textContent = s.rows_done;
        var rows = Object.keys(s.progress).map(function (k) {
          var p = s.progress[k];
          return '<tr><td>' + p.label + '</td><td><progress max="1" value="' + (p.fraction || 0) + '"></progress></td>' +
            '<td class="num">' + p.done + (p.total ? '/' + p.total : '') + '</td>' +
            '<td class="num">' + (p.rate ? Math.round(p.rate) + ' 行/秒' : '') + '</td>' +
            '<td class="num">' + (p.eta !== null ? p.eta + ' 秒' : '') + '</td></tr>';
        });
        document.getElementById('job-phases').innerHTML = rows.join('');
        setTimeout(poll, 1000);
      }).catch(function () { setTimeout(poll, 3000); });
  }
  setTimeout(poll, 1000);
})();
