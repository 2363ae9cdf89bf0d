// The hall's front page: a clock, and a reload every data-refresh seconds (CSP: a static script).
(function () {
  var hall = document.getElementById('hall');
  var clock = document.getElementById('hall-clock');
  if (!hall) { return; }
  function pad(n) { return (n < 10 ? '0' : '') + n; }
  function tick() { var d = new Date(); clock.textContent = pad(d.getHours()) + ':' + pad(d.getMinutes()); }
  tick();
  setInterval(tick, 10000);
  var seconds = parseInt(hall.getAttribute('data-refresh'), 10) || 120;
  setTimeout(function () { window.location.reload(); }, seconds * 1000);
})();
