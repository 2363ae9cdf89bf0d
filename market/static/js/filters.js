// List pages: the filters sit in a <details> (collapsed on phones, and without JS); wide screens open it.
(function () {
  if (window.matchMedia('(min-width: 861px)').matches) {
    document.querySelectorAll('details[data-open-wide]').forEach(function (d) { d.open = true; });
  }
})();
