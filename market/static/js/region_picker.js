// Type-ahead for <select data-region-picker>: the select stays in the form (and is what is
// submitted); a text box filters its options by name (or code) and picks one.
(function () {
  var MAX = 12;

  function enhance(sel) {
    var options = Array.prototype.filter.call(sel.options, function (o) { return o.value; });
    var box = document.createElement('div');
    var input = document.createElement('input');
    var list = document.createElement('ul');
    var shown = [], active = -1;
    box.className = 'region-picker';
    input.type = 'text';
    input.id = sel.id + '-search';
    input.autocomplete = 'off';
    input.placeholder = '输入区县或城市名称，如 金水';
    input.setAttribute('role', 'combobox');
    input.setAttribute('aria-autocomplete', 'list');
    input.setAttribute('aria-expanded', 'false');
    list.id = sel.id + '-options';
    list.className = 'region-options';
    list.setAttribute('role', 'listbox');
    list.hidden = true;
    input.setAttribute('aria-controls', list.id);
    sel.parentNode.insertBefore(box, sel);
    box.appendChild(input);
    box.appendChild(list);
    box.appendChild(sel);
    sel.classList.add('enhanced');
    sel.tabIndex = -1;
    sel.setAttribute('aria-hidden', 'true');
    var label = document.querySelector('label[for="' + sel.id + '"]');
    if (label) { label.htmlFor = input.id; }

    function current() { return sel.selectedIndex > 0 ? sel.options[sel.selectedIndex].text : ''; }
    input.value = current();

    function close() { list.hidden = true; input.setAttribute('aria-expanded', 'false'); active = -1; }

    function choose(o) {
      sel.value = o.value;
      input.value = o.text;
      sel.dispatchEvent(new Event('change', { bubbles: true }));
      close();
    }

    function mark(n) {
      active = n;
      Array.prototype.forEach.call(list.children, function (li, i) {
        li.setAttribute('aria-selected', i === n ? 'true' : 'false');
        if (i === n) { li.scrollIntoView({ block: 'nearest' }); }
      });
    }

    function render() {
      var q = input.value.trim();
      shown = options.filter(function (o) {
        return !q || o.text.indexOf(q) >= 0 || o.value.indexOf(q) === 0;
      }).slice(0, MAX);
      list.textContent = '';
      shown.forEach(function (o, i) {
        var li = document.createElement('li');
        li.setAttribute('role', 'option');
        li.id = list.id + '-' + i;
        li.textContent = o.text;
        var group = document.createElement('small');
        group.textContent = o.parentNode.label || '';
        li.appendChild(group);
        li.addEventListener('mousedown', function (e) { e.preventDefault(); choose(o); });
        list.appendChild(li);
      });
      if (!shown.length) {
        var none = document.createElement('li');
        none.className = 'none';
        none.textContent = '没有名称含“' + q + '”的区县或城市';
        list.appendChild(none);
      }
      list.hidden = false;
      input.setAttribute('aria-expanded', 'true');
      mark(shown.length ? 0 : -1);
    }

    input.addEventListener('input', render);
    input.addEventListener('focus', render);
    input.addEventListener('keydown', function (e) {
      if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
        if (list.hidden) { render(); }
        if (shown.length) { mark((active + (e.key === 'ArrowDown' ? 1 : shown.length - 1)) % shown.length); }
        e.preventDefault();
      } else if (e.key === 'Enter' && !list.hidden) {
        if (active >= 0) { choose(shown[active]); }
        e.preventDefault();
      } else if (e.key === 'Escape') {
        close();
      }
    });
    input.addEventListener('blur', function () {
      var q = input.value.trim();
      var exact = options.filter(function (o) { return o.text === q; });
      if (!q) { sel.value = ''; } else if (exact.length) { sel.value = exact[0].value; }
      input.value = current();
      close();
    });
  }

  document.querySelectorAll('select[data-region-picker]').forEach(enhance);
})();
