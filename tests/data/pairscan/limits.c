/* Known limitations of the pair scan, each pinned by tests/test_pairscan.py. */

/* v3 07/15 follow_pmd_mask(): pte_try_get() may fail with TRYGET_FAILED_NONE or
 * TRYGET_FAILED_ZERO, then pte_put() runs without a reference.  A release with
 * nothing acquired on the path is taken to be the caller's, so this is NOT reported. */
static struct page *put_after_failed_try_get(struct mm_struct *mm, pmd_t *pmd, unsigned long address)
{
	struct page *page;
	int ret = 0;

	if (pte_try_get(pmd) == TRYGET_FAILED_HUGE_PMD)
		ret = -EBUSY;
	if (ret)
		return ERR_PTR(ret);
	page = follow(pmd);
	pte_put(mm, pmd, address);
	return page;
}

/* A callee that releases only on its error return (hmm_vma_handle_pte() unmaps when it
 * fails) is not in the rules: the map looks leaked on that return. */
static int callee_releases_on_error(struct mm_walk *walk, pmd_t *pmdp, unsigned long addr)
{
	pte_t *ptep = pte_offset_map(pmdp, addr);
	int r;

	r = handle_pte(walk, ptep);
	if (r)
		return r;
	pte_unmap(ptep);
	return 0;
}

/* A function that returns holding a reference by contract, without a [[holder]] rule. */
static bool returns_holding_by_contract(pmd_t *pmd)
{
	if (pte_try_get(pmd))
		return false;
	return true;
}
