(function () {
  document.querySelectorAll('.party-org').forEach(function (sel) {
    var box = sel.closest('.party').querySelector('.party-new');
    function sync() { box.hidden = !!sel.value; }
    sel.addEventListener('change', sync); sync();
  });
  var type = document.getElementById('f-ctype'), extra = document.querySelector('.transfer-only');
  function syncType() { extra.hidden = type.value.indexOf('技术转让|') !== 0 && !extra.querySelector('.has-error'); }
  type.addEventListener('change', syncType); syncType();
})();
