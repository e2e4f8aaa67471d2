/* Small functions for tests/test_pairscan.py: each name says what it shows. */

static int leak_on_goto_error(struct mm_struct *mm, pmd_t *pmd, unsigned long addr)
{
	spinlock_t *ptl;
	pte_t *pte;
	int err = 0;

	pte = pte_offset_map_lock(mm, pmd, addr, &ptl);
	if (!pte_present(*pte)) {
		err = -EINVAL;
		goto out;
	}
	set_pte_at(mm, addr, pte, pte_mkold(*pte));
	pte_unmap_unlock(pte, ptl);
out:
	return err;
}

static int leak_on_early_return(struct mm_struct *mm, pmd_t *pmd, unsigned long addr)
{
	spinlock_t *ptl;
	pte_t *pte;

	pte = pte_offset_map_lock(mm, pmd, addr, &ptl);
	if (pte_none(*pte))
		return -ENOENT;
	pte_unmap_unlock(pte, ptl);
	return 0;
}

static void double_release(spinlock_t *lock, int x)
{
	spin_lock(lock);
	if (x)
		spin_unlock(lock);
	do_something();
	spin_unlock(lock);
}

static int conditional_acquire_ok(struct mm_struct *mm, pmd_t *pmd, unsigned long addr)
{
	spinlock_t *ptl;
	pte_t *pte;

	pte = pte_tryget_map_lock(mm, pmd, addr, &ptl);
	if (!pte)
		return 0;
	pte_unmap_unlock(pte, ptl);
	pte_put(mm, pmd, addr);
	return 0;
}

static int conditional_acquire_leak(struct mm_struct *mm, pmd_t *pmd, unsigned long addr)
{
	spinlock_t *ptl;
	pte_t *pte;

	pte = pte_tryget_map_lock(mm, pmd, addr, &ptl);
	if (!pte)
		return 0;
	pte_unmap_unlock(pte, ptl);
	return 0;
}

static int trylock_in_condition(spinlock_t *lock)
{
	if (!spin_trylock(lock))
		return -EBUSY;
	do_something();
	spin_unlock(lock);
	return 0;
}

static void try_get_zero_is_success(struct mm_struct *mm, pmd_t *pmd, unsigned long addr, int create)
{
retry:
	if (!create && pte_try_get(pmd))
		goto retry;
	apply(pmd);
	if (!create)
		pte_put(mm, pmd, addr);
}

static void loop_balanced(struct mm_struct *mm, pmd_t *pmd, unsigned long addr, unsigned long end)
{
	for (; addr != end; addr += PAGE_SIZE, pmd++) {
		if (pte_try_get(pmd))
			continue;
		walk(pmd);
		pte_put(mm, pmd, addr);
	}
}

static int loop_leak_on_break(struct mm_struct *mm, pmd_t *pmd, unsigned long addr, unsigned long end)
{
	int err = 0;

	do {
		if (pte_try_get(pmd))
			continue;
		err = walk(pmd);
		if (err)
			break;
		pte_put(mm, pmd, addr);
	} while (pmd++, addr += PAGE_SIZE, addr != end);
	return err;
}

static void iterator_macro(struct list_head *head, spinlock_t *lock)
{
	struct foo *pos;

	list_for_each_entry(pos, head, list) {
		spin_lock(&pos->lock);
		if (pos->dead)
			continue;
		spin_unlock(&pos->lock);
	}
}

static vm_fault_t release_by_callee(struct vm_fault *vmf)
{
	vmf->pte = pte_offset_map(vmf->pmd, vmf->address);
	if (!pte_present(vmf->orig_pte))
		return do_swap_page(vmf);
	pte_unmap(vmf->pte);
	return 0;
}

static pte_t *returns_what_it_took(struct mm_struct *mm, pmd_t *pmd, unsigned long addr, spinlock_t **ptlp)
{
	pte_t *pte = pte_offset_map_lock(mm, pmd, addr, ptlp);

	return pte;
}

static void correlated_null(struct mm_struct *mm, pmd_t *pmd, unsigned long addr, int x)
{
	pte_t *pte = NULL;

	if (x)
		pte = pte_offset_map(pmd, addr);
	do_something();
	if (pte)
		pte_unmap(pte);
}

static void ifdef_and_do_while(spinlock_t *lock)
{
	do {
		spin_lock_irq(lock);
	} while (0);
#ifdef CONFIG_FOO
	foo();
#else
	bar();
#endif
	spin_unlock_irq(lock);
}

static void annotated(spinlock_t *lock) __acquires(lock)
{
	spin_lock(lock);
}

static void counter_then_put(struct mm_struct *mm, pmd_t *pmd, unsigned long start)
{
	int nr_put = 0;
	spinlock_t *ptl;
	pte_t *pte;

	pte = pte_tryget_map_lock(mm, pmd, start, &ptl);
	if (!pte)
		return;
	nr_put++;
	work(pte);
	pte_unmap_unlock(pte, ptl);
	if (nr_put)
		pte_put_many(mm, pmd, start, nr_put);
}

static int by_value_argument_keeps_facts(struct mm_struct *mm, pmd_t *pmd, unsigned long addr, bool create)
{
	int err;

	if (!create && pte_try_get(pmd))
		return -EAGAIN;
	err = apply(mm, pmd, &err, create);
	if (!create)
		pte_put(mm, pmd, addr);
	return err;
}

static void assertion_is_not_a_path(struct mm_struct *mm)
{
	BUG_ON(mmap_read_trylock(mm));
	do_something();
}
